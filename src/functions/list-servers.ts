// GET /api/servers?stale=true: the servers that stopped posting, longest silent first.
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

export const options = { methods: ['GET'], route: 'servers', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

export const createHandler =
  (getApp: () => PostureApp): HttpHandler =>
  (request, context) =>
    getApp().lifecycleHttp.listServers(request, context);

export const handler = createHandler(getDefaultApp);

app.http('listServers', { ...options, handler });
