// How many HTTP requests one instance of the service runs at once: in Azure the Flex Consumption
// app's functionAppConfig.scaleAndConcurrency.triggers.http.perInstanceConcurrency (infra), here
// the local host's limit (src/local/host.ts), which `npm start`, the tests and the benchmark use.
// A test holds the Bicep value equal to this.
//
// Why 16: it has to fit the worker's 512 MB heap (node-options.ts) with the largest posts. A
// post of a 1 MiB snapshot made of many small registry values keeps about 5 MB while it runs (its
// text 1, the parsed document 1.2, the validated copy 2.8), plus the rows it writes, and the heap
// grows by about 20 MB for one such post with the garbage of reading and parsing it (measured with
// the deployed heap flags, on the local host). 16 at once: at most about 320 MB beside the
// 25–40 MB the service keeps live and the projector's batches, under the cap; 32 could pass it.
// 16 is also what Flex Consumption gives a 2,048 MB instance by default; set explicitly, it stays
// 16 when the instance size changes.
export const HTTP_PER_INSTANCE_CONCURRENCY = 16;

/**
 * Requests the local host lets wait beyond those, in arrival order, before it answers 429 with
 * Retry-After. A waiting request holds its connection and at most what the socket buffers of its
 * body (its body is read only once it runs), so the queue costs little memory.
 */
export const LOCAL_HOST_QUEUE_LIMIT = 4 * HTTP_PER_INSTANCE_CONCURRENCY;
