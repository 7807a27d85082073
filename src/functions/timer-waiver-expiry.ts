// Timer: ends waivers past their expiry; still-failing results they covered alert again.
import { app, type TimerHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

export const schedule = '0 */15 * * * *';

export const createHandler =
  (getApp: () => PostureApp): TimerHandler =>
  async (_timer, context) => {
    context.log(`waiver-expiry: ${JSON.stringify(await getApp().jobs.run('waiver-expiry', context))}`);
  };

export const handler = createHandler(getDefaultApp);

app.timer('waiverExpiry', { schedule, handler });
