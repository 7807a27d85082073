// The functions the local host serves: the same modules Azure loads from src/functions.
import type { HttpFunctionOptions, HttpHandler, TimerHandler } from '@azure/functions';
import type { PostureApp } from '../app/create-app';
import * as getDashboard from '../functions/get-dashboard';
import * as getEvents from '../functions/get-events';
import * as getManifest from '../functions/get-manifest';
import * as getResults from '../functions/get-results';
import * as getRules from '../functions/get-rules';
import * as getServer from '../functions/get-server';
import * as getSummary from '../functions/get-summary';
import * as postSnapshot from '../functions/post-snapshot';
import * as exportResultsCsv from '../functions/export-results-csv';
import * as enroll from '../functions/enroll';
import * as revokeServerKey from '../functions/revoke-server-key';
import * as rotateServerKey from '../functions/rotate-server-key';
import * as getHistory from '../functions/get-history';
import * as listServers from '../functions/list-servers';
import * as runJob from '../functions/run-job';
import * as waivers from '../functions/waivers';
import * as listRefusedServers from '../functions/list-refused-servers';
import * as listEnrolments from '../functions/list-enrolments';
import * as decideEnrolment from '../functions/decide-enrolment';
import * as getDrift from '../functions/get-drift';
import * as getServerDrift from '../functions/get-server-drift';
import * as baselines from '../functions/baselines';
import * as timerReevaluate from '../functions/timer-reevaluate';
import * as timerStaleHosts from '../functions/timer-stale-hosts';
import * as timerWaiverExpiry from '../functions/timer-waiver-expiry';

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
  listServers,
  getHistory,
  waivers,
  runJob,
  enroll,
  revokeServerKey,
  rotateServerKey,
  exportResultsCsv,
  getDashboard,
  listRefusedServers,
  listEnrolments,
  decideEnrolment,
  getDrift,
  getServerDrift,
  baselines,
};

export interface TimerModule {
  readonly schedule: string;
  readonly createHandler: (getApp: () => PostureApp) => TimerHandler;
}

/** Timer functions: the local host runs them on demand (POST /api/jobs/{job}/run) or on an interval. */
export const TIMERS: Readonly<Record<string, TimerModule>> = {
  staleHosts: timerStaleHosts,
  waiverExpiry: timerWaiverExpiry,
  reevaluate: timerReevaluate,
};
