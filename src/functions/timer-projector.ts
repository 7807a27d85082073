// Timer: drains the outbox into the fleet-wide tables (events, history, rule index and counts,
// hosts, raw snapshots, alert records). The schedule is an app setting (POSTURE_PROJECTOR_SCHEDULE,
// every 5 seconds by default in the Bicep), so the projection lag can be tuned without a build.
import { app, type TimerHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

export const schedule = '%POSTURE_PROJECTOR_SCHEDULE%';
/** Shorter than the Functions timeout; a run that finds more work leaves it to the next tick. */
export const BUDGET_MS = 4 * 60_000;

export const createHandler =
  (getApp: () => PostureApp): TimerHandler =>
  async (_timer, context) => {
    const run = await getApp().jobs.run('projector', context, BUDGET_MS);
    // Idle ticks stay quiet: every few seconds, a line saying nothing happened is noise.
    if ((run as { entries?: number }).entries) context.log(`projector: ${JSON.stringify(run)}`);
  };

export const handler = createHandler(getDefaultApp);

app.timer('projector', { schedule, handler, runOnStartup: false });
