// Running the layout migration to its end in tests: one batch at a time, a check after each.
import type { LayoutMigration, LayoutMigrationRun } from '../../src/app/layout-migration';

const quiet = { log: () => undefined };

/** Runs single batches until a pass ends with nothing left; `check` after each. */
export async function untilEmpty(m: LayoutMigration, check: () => Promise<void> = async () => undefined): Promise<LayoutMigrationRun[]> {
  const runs: LayoutMigrationRun[] = [];
  for (let i = 0; i < 100; i++) {
    const run = await m.run(quiet);
    runs.push(run);
    await check();
    if (run.continuation === null && run.remaining === 0) return runs;
  }
  throw new Error('The layout migration did not finish in 100 batches.');
}
