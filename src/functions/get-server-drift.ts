// GET /api/servers/{server}/drift?rule=: how a server's configuration differs from the baseline or the largest cluster.
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

export const options = { methods: ['GET'], route: 'servers/{server}/drift', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

export const createHandler =
  (getApp: () => PostureApp): HttpHandler =>
  (request, context) =>
    getApp().driftHttp.server(request, context);

export const handler = createHandler(getDefaultApp);

app.http('getServerDrift', { ...options, handler });
