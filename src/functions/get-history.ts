// GET /api/servers/{server}/history: a server's status changes per rule, newest first, paged.
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

export const options = { methods: ['GET'], route: 'servers/{server}/history', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

export const createHandler =
  (getApp: () => PostureApp): HttpHandler =>
  (request, context) =>
    getApp().lifecycleHttp.history(request, context);

export const handler = createHandler(getDefaultApp);

app.http('getHistory', { ...options, handler });
