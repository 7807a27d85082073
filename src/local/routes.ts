// The functions the local host serves: the same modules Azure loads from src/functions.
import type { HttpFunctionOptions, HttpHandler } from '@azure/functions';
import type { PostureApp } from '../app/create-app';
import * as getEvents from '../functions/get-events';
import * as getManifest from '../functions/get-manifest';
import * as getResults from '../functions/get-results';
import * as getRules from '../functions/get-rules';
import * as getServer from '../functions/get-server';
import * as getSummary from '../functions/get-summary';
import * as postSnapshot from '../functions/post-snapshot';
import * as enroll from '../functions/enroll';
import * as revokeServerKey from '../functions/revoke-server-key';
import * as rotateServerKey from '../functions/rotate-server-key';

export interface FunctionModule {
  readonly options: Pick<HttpFunctionOptions, 'methods' | 'route' | 'authLevel'>;
  readonly createHandler: (getApp: () => PostureApp) => HttpHandler;
}

export const FUNCTIONS: Readonly<Record<string, FunctionModule>> = {
  postSnapshot,
  getManifest,
  getResults,
  getServer,
  getSummary,
  getEvents,
  getRules,
  enroll,
  revokeServerKey,
  rotateServerKey,
};
