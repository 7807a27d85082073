// The timer functions of Azure, locally: every job on one interval. As in Azure, a job whose last
// run is still going is not started again, and stopping waits for the runs in progress, so none is
// cut off half-way by the storage behind it going away.

export interface JobTimers {
  /** Starts no more runs and resolves once the runs in progress have ended. */
  stop(): Promise<void>;
}

export function startJobTimers<Job extends string>(
  jobs: readonly Job[],
  run: (job: Job) => Promise<unknown>,
  intervalMs: number,
  report: (job: Job, error: unknown) => void,
): JobTimers {
  const running = new Map<Job, Promise<void>>();
  const timer = setInterval(() => {
    for (const job of jobs) {
      if (running.has(job)) continue;
      const done = run(job)
        .then(
          () => undefined,
          (error: unknown) => report(job, error),
        )
        .finally(() => running.delete(job));
      running.set(job, done);
    }
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(running.values());
    },
  };
}
