// Registers every timer of the timer table; each logs what its run did.
import { app } from '@azure/functions';
import { getDefaultApp } from '../app/create-app';
import { TIMERS } from '../app/timers';

for (const timer of TIMERS) {
  app.timer(timer.name, {
    schedule: timer.schedule,
    handler: async (_timer, context) => {
      const run = await getDefaultApp().jobs.run(timer.job, context, timer.budgetMs);
      if (timer.quietWhenIdle && !(run as { entries?: number }).entries) return;
      context.log(`${timer.job}: ${JSON.stringify(run)}`);
    },
  });
}
