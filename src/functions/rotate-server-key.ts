// POST /api/servers/{server}/key/rotate (admin): issue a new server key, revoking the old one.
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

/** Route and auth level; keys are checked in code (see README, "Authorization"). */
export const options = { methods: ['POST'], route: 'servers/{server}/key/rotate', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

/** The handler bound to an app; the local host mounts the same handler with its own app. */
export const createHandler =
  (getApp: () => PostureApp): HttpHandler =>
  (request, context) =>
    getApp().http.rotateServerKey(request, context);

export const handler = createHandler(getDefaultApp);

app.http('rotateServerKey', { ...options, handler });
