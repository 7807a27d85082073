// GET /api/enrolments: re-enrolment requests waiting for (or given) an admin's decision (admin).
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

export const options = { methods: ['GET'], route: 'enrolments', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

export const createHandler =
  (getApp: () => PostureApp): HttpHandler =>
  (request, context) =>
    getApp().keysHttp.enrolments(request, context);

export const handler = createHandler(getDefaultApp);

app.http('listEnrolments', { ...options, handler });
