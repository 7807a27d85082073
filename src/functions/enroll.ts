// POST /api/enroll: the enrolment secret and host facts → this server's own key.
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

/** Route and auth level; keys are checked in code (see README, "Authorization"). */
export const options = { methods: ['POST'], route: 'enroll', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

/** The handler bound to an app; the local host mounts the same handler with its own app. */
export const createHandler =
  (getApp: () => PostureApp): HttpHandler =>
  (request, context) =>
    getApp().http.enroll(request, context);

export const handler = createHandler(getDefaultApp);

app.http('enroll', { ...options, handler });
