// GET /api/drift?rule=: the fleet's configurations for a rule as clusters, largest first.
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

export const options = { methods: ['GET'], route: 'drift', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

export const createHandler =
  (getApp: () => PostureApp): HttpHandler =>
  (request, context) =>
    getApp().driftHttp.fleet(request, context);

export const handler = createHandler(getDefaultApp);

app.http('getDrift', { ...options, handler });
