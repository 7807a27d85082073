// GET /api/dashboard[/{asset}]: the fleet dashboard (a page and its files; no key needed for the
// files, every data call the page makes needs a reader key).
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import type { PostureApp } from '../app/create-app';
import { getDashboardFiles } from '../dashboard/serve';

export const options = { methods: ['GET'], route: 'dashboard/{asset?}', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

/** The files do not depend on the app; the signature matches the other function modules. */
export const createHandler =
  (_getApp?: () => PostureApp): HttpHandler =>
  async (request) =>
    getDashboardFiles().serve(request);

export const handler = createHandler();

app.http('getDashboard', { ...options, handler });
