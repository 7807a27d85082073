// GET /api/refused-servers: servers whose collector is refused: no active key, enrolment blocked or denied, approval pending, a revoked key refused (admin).
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

export const options = { methods: ['GET'], route: 'refused-servers', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

export const createHandler =
  (getApp: () => PostureApp): HttpHandler =>
  (request, context) =>
    getApp().keysHttp.refusedServers(request, context);

export const handler = createHandler(getDefaultApp);

app.http('listRefusedServers', { ...options, handler });
