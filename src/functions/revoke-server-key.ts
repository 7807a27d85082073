// DELETE /api/servers/{server}/key (admin): revoke a server's key; it stops working at once.
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';

/** Route and auth level; keys are checked in code (see README, "Authorization"). */
export const options = { methods: ['DELETE'], route: 'servers/{server}/key', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

/** The handler bound to an app; the local host mounts the same handler with its own app. */
export const createHandler =
  (getApp: () => PostureApp): HttpHandler =>
  (request, context) =>
    getApp().http.revokeServerKey(request, context);

export const handler = createHandler(getDefaultApp);

app.http('revokeServerKey', { ...options, handler });
