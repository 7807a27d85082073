// Registers every timer of the timer table; each logs what its run did.
import { app } from '@azure/functions';
import { getDefaultApp } from '../app/create-app';
import { TIMERS } from '../app/timers';

for (const timer of TIMERS) {
  app.timer(timer.name, {
    schedule: timer.schedule,
    handler: async (_timer, context) => {
      context.log(`${timer.job}: ${JSON.stringify(await getDefaultApp().jobs.run(timer.job, context, timer.budgetMs))}`);
    },
  });
}
