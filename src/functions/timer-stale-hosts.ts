// Timer: marks servers that stopped posting as stale (and logs FleetPosture.ServerStale).
import { app, type TimerHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

export const schedule = '0 */15 * * * *';

export const createHandler =
  (getApp: () => PostureApp): TimerHandler =>
  async (_timer, context) => {
    context.log(`stale-hosts: ${JSON.stringify(await getApp().jobs.run('stale-hosts', context))}`);
  };

export const handler = createHandler(getDefaultApp);

app.timer('staleHosts', { schedule, handler });
