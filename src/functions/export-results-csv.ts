// GET /api/export/results.csv: every current result as CSV (reader key), for Power BI and Excel.
import { app, type HttpFunctionOptions, type HttpHandler } from '@azure/functions';
import { getDefaultApp, type PostureApp } from '../app/create-app';
import { exportResultsCsv } from '../app/export-results';

export const options = { methods: ['GET'], route: 'export/results.csv', authLevel: 'anonymous' } satisfies Omit<HttpFunctionOptions, 'handler'>;

export const createHandler =
  (getApp: () => PostureApp): HttpHandler =>
  (request, context) =>
    exportResultsCsv(getApp(), request, context);

export const handler = createHandler(getDefaultApp);

app.http('exportResultsCsv', { ...options, handler });
