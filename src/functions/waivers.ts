// GET /api/waivers, GET|PUT|DELETE /api/waivers/{id}: accepted risks with an end date (admin key).
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

export const options = { methods: ['GET', 'PUT', 'DELETE'], route: 'waivers/{id?}', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

export const createHandler =
  (getApp: () => PostureApp): HttpHandler =>
  (request, context) =>
    getApp().lifecycleHttp.waivers(request, context);

export const handler = createHandler(getDefaultApp);

app.http('waivers', { ...options, handler });
