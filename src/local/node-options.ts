// The V8 heap settings the service runs with: in Azure as the NODE_OPTIONS app setting (infra),
// locally on `npm start`'s command line, and in the benchmark's service process. Tests hold the
// three equal to this.
//
// Why: V8 lets the old generation grow before collecting it by a factor that depends on the heap
// limit — up to four times the live data once the limit reaches about 2 GB, which it does by
// default on any machine with a few gigabytes. The service keeps 25–40 MB live, yet under a burst of
// posts its heap grew to 100–130 MB and its RSS past 200 MB. A 512 MB old generation brings the
// factor down to about 1.4 (and leaves an order of magnitude of headroom over the live data); an
// 8 MB semi-space halves the young generation. Measured with `npm run bench`: service RSS 123–134 MB
// instead of 190–210 MB, in every ingest scenario.
export const SERVICE_NODE_OPTIONS = ['--max-old-space-size=512', '--max-semi-space-size=8'] as const;
