// The lifecycle routes: stale servers, a server's history, waivers (admin), and a timer's work on
// demand (admin: ops, the local host, tests). Keys and language are the route table's wrapper's.
import type { AlertLog } from './alert-log';
import type { Baselines } from './baselines';
import { ApiError } from './errors';
import type { LayoutMigration } from './layout-migration';
import { checkParams, json, parseFlag, pathServer, parseRule, parseToken, parseTop, readJsonBody, single, type ApiResponse, type RouteCall } from './http-io';
import type { LifecycleQueries } from './lifecycle-queries';
import type { Projector } from './projector';
import { waitedSeconds } from './projector-backlog';
import type { Reevaluation, ReevalProgress } from './reevaluate';
import { reevaluationNote } from './reevaluation-note';
import type { StagedRawSweep } from './staged-raw-sweep';
import type { Reenrolment } from './reenrolment';
import type { StaleHosts } from './stale-hosts';
import { waiverView } from './waiver-body';
import type { Waivers } from './waivers';
import { createOnlyOf, ifMatchOf, revisionEtag } from './preconditions';
import type { Rule } from '../rules/types';
import { isoInstant } from './iso-time';

export const JOBS = ['stale-hosts', 'waiver-expiry', 'reevaluate', 'projector', 'requeue-held', 'staged-raw-sweep', 'layout-migration'] as const;
export type JobName = (typeof JOBS)[number];

/** What the timers run; the timer functions and the run-a-job route share it. */
export class Jobs {
  constructor(
    private readonly deps: {
      readonly staleHosts: StaleHosts;
      readonly waivers: Waivers;
      readonly baselines: Baselines;
      readonly reevaluation: Reevaluation;
      readonly projector: Projector;
      readonly stagedRawSweep: StagedRawSweep;
      readonly layoutMigration: LayoutMigration;
      /** Logs the servers that enrolled and never posted, beside the stale ones. */
      readonly reenrolment: Pick<Reenrolment, 'logNeverPosted'>;
    },
  ) {}

  reevaluationProgress(): Promise<ReevalProgress> {
    return this.deps.reevaluation.progress();
  }

  /** The outbox entries the projector set aside, oldest commit first per server. */
  heldEntries(): ReturnType<Projector['held']> {
    return this.deps.projector.held();
  }

  /** What waits in the outbox for the projector, and since when. */
  projectorBacklog(): ReturnType<Projector['backlog']> {
    return this.deps.projector.backlog();
  }

  /** `budgetMs` bounds a re-evaluation, projector or layout migration run (batches until done or spent); 0: one batch, a one-minute drain. */
  async run(job: JobName, log: AlertLog, budgetMs = 0): Promise<unknown> {
    switch (job) {
      case 'stale-hosts': {
        const stale = await this.deps.staleHosts.run(log);
        // A server that never posted has no results, so it can never go stale: it is watched here.
        return { ...stale, ...(await this.deps.reenrolment.logNeverPosted(log)) };
      }
      case 'waiver-expiry': {
        // Also where the audit events of baseline changes that a storage failure left owed are written.
        const waivers = await this.deps.waivers.expire(log);
        const audits = await this.deps.baselines.writeOwedAudits(log);
        return { ...waivers, baselineAudits: audits.written, baselineAuditsFailed: audits.failed };
      }
      case 'reevaluate':
        // Its alert records are logged by the projector, from the outbox entries of its commits.
        return budgetMs > 0 ? this.deps.reevaluation.runAll(budgetMs) : this.deps.reevaluation.runBatch();
      case 'projector':
        return this.deps.projector.drain(log, budgetMs > 0 ? budgetMs : 60_000);
      case 'requeue-held':
        // Not a timer: an operator's step once the cause of the held entries is fixed.
        return this.deps.projector.requeueHeld(log);
      case 'staged-raw-sweep':
        return this.deps.stagedRawSweep.run(log);
      case 'layout-migration':
        return this.deps.layoutMigration.run(log, budgetMs);
    }
  }
}

const MAX_WAIVER_BYTES = 64 * 1024;

export interface LifecycleApiDeps {
  readonly queries: LifecycleQueries;
  readonly waivers: Waivers;
  readonly jobs: Jobs;
  readonly rules: readonly Rule[];
  readonly clock: () => number;
  readonly reenrolment: Pick<Reenrolment, 'neverPostedServers'>;
}

export class LifecycleApi {
  constructor(private readonly deps: LifecycleApiDeps) {}

  /**
   * Every server with its host facts, paged; stale=true: only the stale ones, longest silent first;
   * neverPosted=true: the servers enrolled over two hours ago that have posted nothing, which no
   * other list holds (they have no host facts and cannot go stale).
   */
  async listServers({ req }: RouteCall): Promise<ApiResponse> {
    const q = req.query;
    checkParams(q, ['stale', 'neverPosted', 'top', 'continuationToken']);
    const stale = parseFlag(q, 'stale');
    const neverPosted = parseFlag(q, 'neverPosted');
    if (stale === false) throw new ApiError('invalid_query', '"stale" may only be true (the stale servers); leave it out for every server.');
    if (neverPosted === false) throw new ApiError('invalid_query', '"neverPosted" may only be true (the servers that enrolled and never posted); leave it out for every server.');
    if (stale && neverPosted) throw new ApiError('invalid_query', 'Ask for stale=true or neverPosted=true, not both: a stale server has posted.');
    const one = stale ? 'stale' : neverPosted ? 'neverPosted' : undefined;
    if (one && (q.has('top') || q.has('continuationToken'))) throw new ApiError('invalid_query', `The answer to ${one}=true comes whole: "top" and "continuationToken" do not apply to it.`);
    if (stale) return json(200, await this.deps.queries.staleServers());
    if (neverPosted) return json(200, await this.deps.reenrolment.neverPostedServers());
    return json(200, await this.deps.queries.servers(parseTop(q), parseToken(q)));
  }

  /** A server's status changes, newest first: rule, top, continuationToken. The server by id or host name, a removed one too (with when and by whom). */
  async history({ req, lang }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, ['rule', 'top', 'continuationToken']);
    // The query is checked before the server is looked up, so a bad one costs no storage read.
    const [rule, top, token] = [parseRule(req.query, this.deps.rules), parseTop(req.query), parseToken(req.query)];
    const server = await this.deps.queries.resolveServerOrRemoved(pathServer(req.params));
    return json(200, await this.deps.queries.history(server, rule, top, token, lang));
  }

  /** GET lists (state=) or reads one; PUT creates or changes one; DELETE ends one. */
  async waivers({ req, log }: RouteCall): Promise<ApiResponse> {
    const method = req.method.toUpperCase();
    const id = req.params.id;
    const now = this.deps.clock();
    const { waivers } = this.deps;
    if (method === 'GET' && !id) {
      checkParams(req.query, ['state']);
      const state = single(req.query, 'state')?.toLowerCase();
      if (state !== undefined && !['active', 'expired', 'deleted'].includes(state)) throw new ApiError('invalid_query', `"state" must be active, expired or deleted, not "${state.slice(0, 20)}".`);
      const list = await waivers.list(state as 'active' | 'expired' | 'deleted' | undefined);
      return json(200, { items: list.map((w) => waiverView(w, now)) });
    }
    checkParams(req.query, []);
    if (!id) throw new ApiError('invalid_waiver', `${method} needs a waiver id at the end of the path.`);
    if (method === 'GET') {
      const w = await waivers.get(id);
      if (!w) throw new ApiError('not_found', `There is no waiver "${id.slice(0, 64)}".`);
      return json(200, waiverView(w, now), { ETag: revisionEtag(w) });
    }
    // Two admins editing one waiver: the one whose If-Match is no longer the waiver's ETag is refused;
    // two creating one with If-None-Match: *, the second is.
    const precondition = ifMatchOf(req);
    if (method === 'PUT') {
      const createOnly = createOnlyOf(req);
      const body = await readJsonBody(req, { max: MAX_WAIVER_BYTES, what: 'A waiver', hint: 'send the waiver as one JSON object', emptyCode: 'invalid_waiver' });
      const { created, waiver, coverage } = await waivers.put(id, body, log, precondition, createOnly);
      const answer = { ...waiverView(waiver, now), coveredServers: coverage.servers, coveredServersAtLeast: coverage.atLeast, warnings: coverage.warnings };
      return json(created ? 201 : 200, answer, { ETag: revisionEtag(waiver) });
    }
    if (method === 'DELETE') {
      const ended = await waivers.remove(id, log, precondition);
      if (!ended) throw new ApiError('not_found', `There is no active waiver "${id.slice(0, 64)}".`);
      return json(200, waiverView(ended, now), { ETag: revisionEtag(ended) });
    }
    throw new ApiError('invalid_query', `Waivers accept GET, PUT and DELETE, not ${method}.`);
  }

  /** Where a job stands between runs: re-evaluation's pass over the fleet, the projector's held entries and what waits for it. */
  async getJob({ req }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, []);
    const job = (req.params.job ?? '').toLowerCase();
    if (job === 'projector') {
      const [{ entries, more }, backlog] = await Promise.all([this.deps.jobs.heldEntries(), this.deps.jobs.projectorBacklog()]);
      const held = entries.map((e) => ({ server: e.server, commitId: e.commitId, writtenAt: isoInstant(e.writtenAt), heldAt: isoInstant(e.heldAt), error: e.error }));
      const waiting = {
        entries: backlog.waiting,
        more: backlog.more,
        oldestAt: backlog.oldestAt === undefined ? null : isoInstant(backlog.oldestAt),
        oldestSeconds: waitedSeconds(backlog, this.deps.clock()),
        oldestServer: backlog.oldestServer ?? null,
      };
      return json(200, { job, held, more, waiting });
    }
    if (job !== 'reevaluate') {
      throw new ApiError('not_found', (JOBS as readonly string[]).includes(job) ? `The job "${job}" keeps no state between runs; only reevaluate and projector do.` : `There is no job "${job.slice(0, 40)}"; jobs are ${JOBS.join(', ')}.`);
    }
    const progress = await this.deps.jobs.reevaluationProgress();
    return json(200, { job, ...progress, note: reevaluationNote(progress) });
  }

  async runJob({ req, log }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, []);
    const job = (req.params.job ?? '').toLowerCase();
    if (!(JOBS as readonly string[]).includes(job)) throw new ApiError('not_found', `There is no job "${job.slice(0, 40)}"; jobs are ${JOBS.join(', ')}.`);
    return json(200, { job, result: await this.deps.jobs.run(job as JobName, log) });
  }
}
