// POST /api/jobs/{job}/run: a timer's work on demand (admin key), e.g. after a deployment.
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

export const options = { methods: ['POST'], route: 'jobs/{job}/run', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

export const createHandler =
  (getApp: () => PostureApp): HttpHandler =>
  (request, context) =>
    getApp().lifecycleHttp.runJob(request, context);

export const handler = createHandler(getDefaultApp);

app.http('runJob', { ...options, handler });
