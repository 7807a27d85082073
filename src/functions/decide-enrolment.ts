// POST /api/servers/{server}/enrolments/{request}/{decision}: approve or deny one re-enrolment request (admin).
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

export const options = { methods: ['POST'], route: 'servers/{server}/enrolments/{request}/{decision}', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

export const createHandler =
  (getApp: () => PostureApp): HttpHandler =>
  (request, context) =>
    getApp().keysHttp.decide(request, context);

export const handler = createHandler(getDefaultApp);

app.http('decideEnrolment', { ...options, handler });
