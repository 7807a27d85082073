// Timer: after a rule change, re-evaluates stored snapshots in leased batches until done (or ~4 min).
import { app, type TimerHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

export const schedule = '0 */5 * * * *';
/** Well inside the Functions timeout, and shorter than the next run's interval. */
export const BUDGET_MS = 4 * 60_000;

export const createHandler =
  (getApp: () => PostureApp): TimerHandler =>
  async (_timer, context) => {
    context.log(`reevaluate: ${JSON.stringify(await getApp().jobs.run('reevaluate', context, BUDGET_MS))}`);
  };

export const handler = createHandler(getDefaultApp);

app.timer('reevaluate', { schedule, handler, runOnStartup: false });
