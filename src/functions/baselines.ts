// GET|PUT|DELETE /api/baselines/{rule}: the server drift is measured against for a rule (admin key, audited).
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

export const options = { methods: ['GET', 'PUT', 'DELETE'], route: 'baselines/{rule}', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

export const createHandler =
  (getApp: () => PostureApp): HttpHandler =>
  (request, context) =>
    getApp().driftHttp.baselines(request, context);

export const handler = createHandler(getDefaultApp);

app.http('baselines', { ...options, handler });
