// What keeps a worker's event loop alive: servers, sockets, child processes, timers that are not
// unref'd. The files of a worker share its process (isolate: false), so what one file leaves open
// lives on into the files after it: a server still holding its port, a timer that fires during
// another file's test, a child that is never reaped.

/** How many of each kind of handle are open now (`process.getActiveResourcesInfo`). */
export function openHandles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/** The handles open now beyond those of `before`, by kind. */
export function handlesBeyond(before: ReadonlyMap<string, number>): Record<string, number> {
  const beyond: Record<string, number> = {};
  for (const [kind, n] of openHandles()) if (n > (before.get(kind) ?? 0)) beyond[kind] = n - (before.get(kind) ?? 0);
  return beyond;
}

/**
 * The handles still open beyond `before` once those that are closing have had `settleMs` to close
 * (a child's exit is reaped, a closed socket's handle goes, a tick or a few later).
 */
export async function handlesLeftSince(before: ReadonlyMap<string, number>, settleMs: number, pollMs = 25): Promise<Record<string, number>> {
  const deadline = Date.now() + settleMs;
  let left = handlesBeyond(before);
  while (Object.keys(left).length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    left = handlesBeyond(before);
  }
  return left;
}

const WHAT: Readonly<Record<string, string>> = {
  TCPServerWrap: 'a listening server',
  TCPSocketWrap: 'a TCP connection; a response body never read keeps the client\'s open',
  PipeServerWrap: 'a listening pipe',
  PipeWrap: "a pipe (a child process's stdio)",
  ProcessWrap: 'a child process',
  Timeout: 'a timer',
  Immediate: 'an immediate callback',
  FSEventWrap: 'a file watcher',
  StatWatcher: 'a file watcher',
  UDPWrap: 'a UDP socket',
  SignalWrap: 'a signal listener',
};

/** The one sentence that names what a file left open. */
export function leftOpenMessage(file: string, left: Readonly<Record<string, number>>): string {
  const parts = Object.entries(left).map(([kind, n]) => `${n} ${kind} (${WHAT[kind] ?? 'a handle'})`);
  return `${file} left open after its last test: ${parts.join(', ')}; close what a file opens in its own afterAll, or it lives on into the next file of its worker.`;
}
