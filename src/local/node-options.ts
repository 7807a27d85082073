// The V8 heap settings the service runs with: in Azure as the NODE_OPTIONS app setting (infra),
// locally on `npm start`'s command line, and in the benchmark's service process. Tests hold the
// three equal to this.
//
// Why: V8 lets the old generation grow before collecting it by a factor that its heap controller
// makes larger as the heap limit grows, and the default limit is large on any machine with a few
// gigabytes. The service keeps 25–40 MB live, yet under a burst of posts its heap grew to
// 100–130 MB and its RSS past 200 MB. With a 512 MB old generation (an order of magnitude above the
// live data) and an 8 MB semi-space (half the young generation) the heap stays near 50–60 MB.
// Measured with `npm run bench`: service RSS 123–162 MB in every scenario, against 190–265 MB.
export const SERVICE_NODE_OPTIONS = ['--max-old-space-size=512', '--max-semi-space-size=8'] as const;
