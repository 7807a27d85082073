// The lifecycle routes and the jobs, without a host or storage: which query each listing takes and
// every refusal in its words (before anything is read), the waiver routes per method with their
// ETags and coverage, the jobs' state and what each job runs. The service tests call the same
// routes over HTTP on both hosts, against Azurite.
import { describe, expect, it } from 'vitest';
import type { ApiContext, RouteCall } from '../../src/app/http-io';
import { JOBS, Jobs, LifecycleApi, type LifecycleApiDeps } from '../../src/app/lifecycle-api';
import { RULES } from '../../src/rules/registry';
import type { StoredWaiver } from '../../src/store';
import { apiRequest, jsonOf, refusalOf, streamOf, type RequestParts } from '../support/api-request';
import { WAIVER_NOW as NOW, waiverRecord } from '../support/waiver-records';

const RULE = 'mcafee-port25-blocked';

const waiver = (over: Partial<StoredWaiver> = {}): StoredWaiver => ({ ...waiverRecord({ server: 'exch1', revision: 2 }), etag: 'e', ...over });

/** Deps that record each call as [name, ...args] and answer as given. */
function fakeDeps(answers: { waiver?: StoredWaiver; removed?: StoredWaiver; created?: boolean; held?: unknown[]; more?: boolean; backlog?: { waiting: number; more: boolean; oldestAt?: number; oldestServer?: string }; progress?: unknown } = {}) {
  const calls: unknown[][] = [];
  const record =
    <T,>(name: string, answer: T) =>
    async (...args: unknown[]) => (calls.push([name, ...args]), answer);
  const deps = {
    queries: {
      staleServers: record('staleServers', { items: ['stale'] }),
      servers: record('servers', { items: ['all'] }),
      resolveServerOrRemoved: record('resolve', 'exch1.contoso.com'),
      history: record('history', { items: ['h'] }),
    },
    waivers: {
      list: record('list', [waiver()]),
      get: record('get', answers.waiver),
      put: record('put', { created: answers.created ?? true, waiver: answers.waiver ?? waiver(), coverage: { servers: 1, atLeast: false, warnings: [] } }),
      remove: record('remove', answers.removed),
    },
    jobs: {
      heldEntries: record('held', { entries: answers.held ?? [], more: answers.more ?? false }),
      projectorBacklog: record('backlog', answers.backlog ?? { waiting: 0, more: false }),
      reevaluationProgress: record('progress', answers.progress ?? { loadedRuleSetVersion: 'v', upToDate: true, pass: null }),
      run: record('run', { done: true }),
    },
    rules: RULES,
    clock: () => NOW,
    reenrolment: { neverPostedServers: record('neverPosted', { items: ['never'], truncated: false }) },
  } as unknown as LifecycleApiDeps;
  return { api: new LifecycleApi(deps), calls };
}

const log = { log: () => undefined, warn: () => undefined, error: () => undefined } as unknown as ApiContext;
const call = (parts: RequestParts): RouteCall => ({ req: apiRequest(parts), log, lang: 'en' });


describe('listServers', () => {
  it('lists every server a page at a time, or only the stale ones, or only those that never posted', async () => {
    const { api, calls } = fakeDeps();
    expect(jsonOf(await api.listServers(call({ query: 'top=5&continuationToken=abc' })))).toStrictEqual({ items: ['all'] });
    expect(jsonOf(await api.listServers(call({ query: 'stale=TRUE' })))).toStrictEqual({ items: ['stale'] });
    expect(jsonOf(await api.listServers(call({ query: 'neverPosted=true' })))).toStrictEqual({ items: ['never'], truncated: false });
    expect(calls).toStrictEqual([['servers', 5, 'abc'], ['staleServers'], ['neverPosted']]);
  });

  it('refuses a flag set to false, both flags, paging a whole answer and unknown parameters, reading nothing', async () => {
    const { api, calls } = fakeDeps();
    const cases: [string, string][] = [
      ['stale=false', '"stale" may only be true (the stale servers); leave it out for every server.'],
      ['neverPosted=false', '"neverPosted" may only be true (the servers that enrolled and never posted); leave it out for every server.'],
      ['stale=true&neverPosted=true', 'Ask for stale=true or neverPosted=true, not both: a stale server has posted.'],
      ['stale=true&top=5', 'The answer to stale=true comes whole: "top" and "continuationToken" do not apply to it.'],
      ['neverPosted=true&continuationToken=abc', 'The answer to neverPosted=true comes whole: "top" and "continuationToken" do not apply to it.'],
    ];
    for (const [query, message] of cases) expect(await refusalOf(() => api.listServers(call({ query }))), query).toStrictEqual(['invalid_query', message]);
    expect(await refusalOf(() => api.listServers(call({ query: 'rule=x' })))).toStrictEqual(['invalid_query', 'Unknown query parameter "rule"; this route accepts "stale", "neverPosted", "top", "continuationToken".']);
    expect(calls).toStrictEqual([]);
  });
});

describe('history', () => {
  it('checks the query before it looks the server up, then reads its history in the caller language', async () => {
    const { api, calls } = fakeDeps();
    expect((await refusalOf(() => api.history(call({ query: 'top=0', params: { server: 'exch1' } }))))[0]).toBe('invalid_query');
    expect(calls).toStrictEqual([]);
    const res = await api.history({ ...call({ query: `rule=${RULE.toUpperCase()}&top=3&continuationToken=t3`, params: { server: 'EXCH1' } }), lang: 'ja' });
    expect(jsonOf(res)).toStrictEqual({ items: ['h'] });
    expect(calls).toStrictEqual([['resolve', 'exch1'], ['history', 'exch1.contoso.com', RULE, 3, 't3', 'ja']]);
  });
});

describe('waivers', () => {
  it('lists waivers in any state, or in one, as GET answers each', async () => {
    const { api, calls } = fakeDeps();
    const all = jsonOf(await api.waivers(call({})));
    expect(all).toMatchObject({ items: [{ id: 'w-1', rule: RULE, server: 'exch1', state: 'active', revision: 2 }] });
    for (const state of ['Expired', 'active', 'DELETED']) await api.waivers(call({ query: `state=${state}` }));
    expect(calls).toStrictEqual([['list', undefined], ['list', 'expired'], ['list', 'active'], ['list', 'deleted']]);
  });

  it('refuses an unknown state and other parameters of the listing', async () => {
    const { api, calls } = fakeDeps();
    expect(await refusalOf(() => api.waivers(call({ query: 'state=gone' })))).toStrictEqual(['invalid_query', '"state" must be active, expired or deleted, not "gone".']);
    expect(await refusalOf(() => api.waivers(call({ query: `state=${'x'.repeat(30)}` })))).toStrictEqual(['invalid_query', `"state" must be active, expired or deleted, not "${'x'.repeat(20)}".`]);
    expect(await refusalOf(() => api.waivers(call({ query: 'top=5' })))).toStrictEqual(['invalid_query', 'Unknown query parameter "top"; this route accepts "state".']);
    expect(calls).toStrictEqual([]);
  });

  it('reads one with its revision as the ETag, shown expired once past its end; a missing one is a 404', async () => {
    const { api } = fakeDeps({ waiver: waiver({ expiresAt: NOW }) });
    const res = await api.waivers(call({ params: { id: 'w-1' } }));
    expect([res.status, res.headers.ETag, jsonOf(res).state]).toStrictEqual([200, '"2"', 'expired']);
    expect(await refusalOf(() => fakeDeps().api.waivers(call({ params: { id: 'w-9' } })))).toStrictEqual(['not_found', 'There is no waiver "w-9".']);
    expect(await refusalOf(() => fakeDeps().api.waivers(call({ params: { id: 'w'.repeat(80) } })))).toStrictEqual(['not_found', `There is no waiver "${'w'.repeat(64)}".`]);
    expect(await refusalOf(() => api.waivers(call({ params: { id: 'w-1' }, query: 'state=active' })))).toStrictEqual(['invalid_query', 'This route takes no query parameters, but got "state".']);
  });

  it('needs an id to change one', async () => {
    for (const method of ['PUT', 'DELETE']) {
      expect(await refusalOf(() => fakeDeps().api.waivers(call({ method })))).toStrictEqual(['invalid_waiver', `${method} needs a waiver id at the end of the path.`]);
    }
  });

  it('creates or changes one with PUT: 201 or 200, its ETag, and the servers it covers', async () => {
    for (const created of [true, false]) {
      const { api, calls } = fakeDeps({ created });
      const res = await api.waivers(call({ method: 'PUT', params: { id: 'w-1' }, headers: { 'content-type': 'application/json', 'if-none-match': '*' }, body: streamOf('{"rule":"x"}') }));
      expect([res.status, res.headers.ETag]).toStrictEqual([created ? 201 : 200, '"2"']);
      expect(jsonOf(res)).toMatchObject({ id: 'w-1', coveredServers: 1, coveredServersAtLeast: false, warnings: [] });
      expect(calls.map((c) => c.slice(0, 3))).toStrictEqual([['put', 'w-1', { rule: 'x' }]]);
      expect(calls[0]![4]).toBeUndefined();
      expect(calls[0]![5]).toBe(true);
    }
  });

  it('names a waiver in its refusals of the body', async () => {
    const { api } = fakeDeps();
    expect(await refusalOf(() => api.waivers(call({ method: 'PUT', params: { id: 'w-1' }, body: streamOf('{}') })))).toStrictEqual(['unsupported_media_type', 'Send a waiver as Content-Type: application/json (UTF-8), not without a Content-Type.']);
    expect(await refusalOf(() => api.waivers(call({ method: 'PUT', params: { id: 'w-1' }, headers: { 'content-type': 'application/json' }, body: streamOf(' ') })))).toStrictEqual(['invalid_waiver', 'The body is empty; send the waiver as one JSON object.']);
  });

  it('passes If-Match on to the change, and refuses a body over 64 KiB', async () => {
    const { api, calls } = fakeDeps();
    await api.waivers(call({ method: 'PUT', params: { id: 'w-1' }, headers: { 'content-type': 'application/json', 'if-match': '"2"' }, body: streamOf('{}') }));
    const precondition = calls[0]![4] as (etag: string) => boolean;
    expect([precondition('"2"'), precondition('"3"'), calls[0]![5]]).toStrictEqual([true, false, false]);
    const sized = (bytes: number) => `{"j":"${'x'.repeat(bytes - 8)}"}`;
    const put = (text: string) => api.waivers(call({ method: 'PUT', params: { id: 'w-1' }, headers: { 'content-type': 'application/json' }, body: streamOf(text) }));
    expect((await put(sized(64 * 1024))).status).toBe(201);
    expect((await refusalOf(() => put(sized(64 * 1024 + 1))))[0]).toBe('too_large');
    expect(await refusalOf(() => api.waivers(call({ method: 'PUT', params: { id: 'w-1' }, headers: { 'content-type': 'application/json' }, body: streamOf('') })))).toMatchObject(['invalid_waiver', expect.any(String)]);
  });

  it('ends one with DELETE, answering it as ended; one not in force is a 404', async () => {
    const ended = waiver({ state: 'deleted', endedAt: NOW, revision: 3 });
    const { api, calls } = fakeDeps({ removed: ended });
    const res = await api.waivers(call({ method: 'DELETE', params: { id: 'w-1' } }));
    expect([res.status, res.headers.ETag, jsonOf(res).state, jsonOf(res).endedAt]).toStrictEqual([200, '"3"', 'deleted', '2026-12-06T10:00:00.000Z']);
    expect(calls[0]!.slice(0, 2)).toStrictEqual(['remove', 'w-1']);
    expect(await refusalOf(() => fakeDeps().api.waivers(call({ method: 'DELETE', params: { id: 'w-1' } })))).toStrictEqual(['not_found', 'There is no active waiver "w-1".']);
    expect(await refusalOf(() => fakeDeps().api.waivers(call({ method: 'DELETE', params: { id: 'd'.repeat(80) } })))).toStrictEqual(['not_found', `There is no active waiver "${'d'.repeat(64)}".`]);
  });

  it('refuses any other method', async () => {
    expect(await refusalOf(() => fakeDeps().api.waivers(call({ method: 'PATCH', params: { id: 'w-1' } })))).toStrictEqual(['invalid_query', 'Waivers accept GET, PUT and DELETE, not PATCH.']);
  });
});

describe('getJob', () => {
  it('answers the projector held entries and what waits, with since when', async () => {
    const held = [{ server: 'exch1', commitId: 'c1', writtenAt: NOW - 60_000, heldAt: NOW - 30_000, error: 'bad', proven: true }];
    const { api } = fakeDeps({ held, more: true, backlog: { waiting: 12, more: false, oldestAt: NOW - 90_500, oldestServer: 'exch2' } });
    expect(jsonOf(await api.getJob(call({ params: { job: 'Projector' } })))).toStrictEqual({
      job: 'projector',
      held: [{ server: 'exch1', commitId: 'c1', writtenAt: '2026-12-06T09:59:00.000Z', heldAt: '2026-12-06T09:59:30.000Z', error: 'bad' }],
      more: true,
      waiting: { entries: 12, more: false, oldestAt: '2026-12-06T09:58:29.500Z', oldestSeconds: 90, oldestServer: 'exch2' },
    });
    expect(jsonOf(await fakeDeps().api.getJob(call({ params: { job: 'projector' } }))).waiting).toStrictEqual({ entries: 0, more: false, oldestAt: null, oldestSeconds: 0, oldestServer: null });
  });

  it('answers re-evaluation progress with its note', async () => {
    const progress = { loadedRuleSetVersion: 'v2', upToDate: false, pass: null };
    const answer = jsonOf(await fakeDeps({ progress }).api.getJob(call({ params: { job: 'reevaluate' } })));
    expect(answer).toMatchObject({ job: 'reevaluate', loadedRuleSetVersion: 'v2', upToDate: false, pass: null });
    expect(typeof answer.note).toBe('string');
    expect(jsonOf(await fakeDeps().api.getJob(call({ params: { job: 'reevaluate' } }))).note).toBeNull();
  });

  it('says which jobs keep no state, and which jobs there are', async () => {
    const { api, calls } = fakeDeps();
    expect(await refusalOf(() => api.getJob(call({ params: { job: 'stale-hosts' } })))).toStrictEqual(['not_found', 'The job "stale-hosts" keeps no state between runs; only reevaluate and projector do.']);
    expect(await refusalOf(() => api.getJob(call({ params: { job: 'x'.repeat(50) } })))).toStrictEqual(['not_found', `There is no job "${'x'.repeat(40)}"; jobs are ${JOBS.join(', ')}.`]);
    expect(await refusalOf(() => api.getJob(call({ params: {} })))).toStrictEqual(['not_found', `There is no job ""; jobs are ${JOBS.join(', ')}.`]);
    expect(await refusalOf(() => api.getJob(call({ params: { job: 'projector' }, query: 'x=1' })))).toStrictEqual(['invalid_query', 'This route takes no query parameters, but got "x".']);
    expect(calls).toStrictEqual([]);
  });
});

describe('runJob', () => {
  it('runs a named job in any case and answers its result; an unknown one is a 404', async () => {
    const { api, calls } = fakeDeps();
    expect(jsonOf(await api.runJob(call({ method: 'POST', params: { job: 'Waiver-Expiry' } })))).toStrictEqual({ job: 'waiver-expiry', result: { done: true } });
    expect(calls).toStrictEqual([['run', 'waiver-expiry', log]]);
    expect(await refusalOf(() => api.runJob(call({ method: 'POST', params: { job: 'reboot' } })))).toStrictEqual(['not_found', `There is no job "reboot"; jobs are ${JOBS.join(', ')}.`]);
    expect(await refusalOf(() => api.runJob(call({ method: 'POST', params: { job: 'j'.repeat(50) } })))).toStrictEqual(['not_found', `There is no job "${'j'.repeat(40)}"; jobs are ${JOBS.join(', ')}.`]);
    expect(await refusalOf(() => api.runJob(call({ method: 'POST', params: {} })))).toStrictEqual(['not_found', `There is no job ""; jobs are ${JOBS.join(', ')}.`]);
    expect(await refusalOf(() => api.runJob(call({ method: 'POST', params: { job: 'projector' }, query: 'budget=5' })))).toStrictEqual(['invalid_query', 'This route takes no query parameters, but got "budget".']);
  });
});

describe('Jobs', () => {
  function jobs() {
    const calls: unknown[][] = [];
    const fn =
      (name: string, answer: unknown = { [name]: 1 }) =>
      async (...args: unknown[]) => (calls.push([name, ...args]), answer);
    const j = new Jobs({
      staleHosts: { run: fn('stale', { stale: 2 }) },
      waivers: { expire: fn('expire', { expired: 1, reRaised: 2, failed: 0 }) },
      baselines: { writeOwedAudits: fn('audits', { written: 3, failed: 1 }) },
      reevaluation: { runAll: fn('runAll'), runBatch: fn('runBatch'), progress: fn('progress') },
      projector: { drain: fn('drain'), requeueHeld: fn('requeue'), held: fn('held'), backlog: fn('backlog') },
      stagedRawSweep: { run: fn('sweep') },
      layoutMigration: { run: fn('migrate') },
      reenrolment: { logNeverPosted: fn('neverPosted', { neverPosted: 4, neverPostedAtLeast: false }) },
    } as unknown as ConstructorParameters<typeof Jobs>[0]);
    return { j, calls };
  }

  it('runs the stale-host check with the never-posted servers beside it', async () => {
    const { j, calls } = jobs();
    expect(await j.run('stale-hosts', log)).toStrictEqual({ stale: 2, neverPosted: 4, neverPostedAtLeast: false });
    expect(calls).toStrictEqual([['stale', log], ['neverPosted', log]]);
  });

  it('ends expired waivers, then writes the baseline audits a failure left owed', async () => {
    const { j, calls } = jobs();
    expect(await j.run('waiver-expiry', log)).toStrictEqual({ expired: 1, reRaised: 2, failed: 0, baselineAudits: 3, baselineAuditsFailed: 1 });
    expect(calls).toStrictEqual([['expire', log], ['audits', log]]);
  });

  it('bounds a re-evaluation, a drain and a migration by the budget, one batch or a minute without one', async () => {
    const { j, calls } = jobs();
    await j.run('reevaluate', log);
    await j.run('reevaluate', log, 5000);
    await j.run('projector', log);
    await j.run('projector', log, 5000);
    await j.run('layout-migration', log);
    await j.run('layout-migration', log, 7000);
    expect(calls).toStrictEqual([['runBatch'], ['runAll', 5000], ['drain', log, 60_000], ['drain', log, 5000], ['migrate', log, 0], ['migrate', log, 7000]]);
  });

  it('requeues held entries and sweeps staged bodies on demand, and reads the jobs state', async () => {
    const { j, calls } = jobs();
    expect(await j.run('requeue-held', log)).toStrictEqual({ requeue: 1 });
    expect(await j.run('staged-raw-sweep', log)).toStrictEqual({ sweep: 1 });
    expect(await j.reevaluationProgress()).toStrictEqual({ progress: 1 });
    expect(await j.heldEntries()).toStrictEqual({ held: 1 });
    expect(await j.projectorBacklog()).toStrictEqual({ backlog: 1 });
    expect(calls).toStrictEqual([['requeue', log], ['sweep', log], ['progress'], ['held'], ['backlog']]);
  });
});
