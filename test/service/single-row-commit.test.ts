// Under a one-rule set a server has one Results row, and its commit is a single conditional write
// (create, or replace under the row's ETag) rather than a one-operation transaction. It must keep
// everything the transaction gave: atomicity, conflicts detected and retried, a lost answer found
// again by the request that sent it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoragePolicy } from '../../src/store';
import { lostAnswers, oncePerRequest } from '../support/faults';
import { getAll, post, type Json } from '../support/http';
import { alphaRule, snapshot } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

const isCommit = (method: string, url: string) => (method === 'PUT' || method === 'POST') && /\/Results(\(|$|\?)/.test(new URL(url).pathname.replace(/^\/devstoreaccount1/, ''));
/** The writes sent (each once: a retry of one is not another write). */
const writes: { method: string; path: string; ifMatch?: string }[] = [];
const firstAttempt = oncePerRequest();
const recorder: StoragePolicy = {
  name: 'testRecordWrites',
  sendRequest(request, next) {
    const path = decodeURIComponent(new URL(request.url).pathname).replace(/^\/devstoreaccount1/, '');
    if (request.method !== 'GET' && firstAttempt(request)) writes.push({ method: request.method, path, ifMatch: request.headers.get('if-match') });
    return next(request);
  },
};
const lose = lostAnswers('testLoseCommitAnswer');

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: [alphaRule], storagePolicies: [recorder, lose.policy] });
});
afterAll(async () => stack?.stop());

const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
const minutesAgo = (m: number) => Date.now() - m * 60_000;
const statuses = async (host: string) => (await getAll(stack, `events?server=${server(host)}&rule=test-alpha`)).items.map((e: Json) => e.toStatus);

describe('a one-rule commit', () => {
  it('is one PUT under the row ETag (a first post creates the row): no transaction', async () => {
    const host = 'ONEROW1';
    writes.length = 0;
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(20) }))).status).toBe(201);
    const first = writes.filter((w) => w.path.startsWith('/Results'));
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ method: 'POST', path: '/Results' });
    writes.length = 0;
    expect((await post(stack, snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(10) }))).status).toBe(201);
    const second = writes.filter((w) => w.path.startsWith('/Results'));
    expect(second).toHaveLength(1);
    expect(second[0]!.method).toBe('PUT');
    expect(second[0]!.ifMatch).toMatch(/^W\/"/);
    expect(await statuses(host)).toEqual(['Warning', 'Pass']);
  });

  it('whose answer was lost: the request finds its own commit and answers 201; a repeat is 200 duplicate; one event', async () => {
    const host = 'ONEROW2';
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(10) }))).status).toBe(201);
    const doc = snapshot({ host, testState: 'Error', collectedAt: minutesAgo(5) });
    lose.when = ({ method, url }) => isCommit(method, url);
    const first = await post(stack, doc);
    expect(lose.when).toBeUndefined(); // it fired
    expect(first.status).toBe(201);
    expect(first.body.outcome).toBe('accepted');
    const repeat = await post(stack, doc);
    expect(repeat.status).toBe(200);
    expect(repeat.body.outcome).toBe('duplicate');
    expect(await statuses(host)).toEqual(['Error', 'Pass']);
  });

  it('under concurrent snapshots of one server (creates and replaces colliding): each answered, the newest kept, events in order', async () => {
    const host = 'ONEROW3';
    const states = ['Pass', 'Warning', 'Error', 'Pass', 'Warning', 'Error'];
    // A new server: the first commits race to create its row; later ones race to replace it.
    const docs = states.map((testState, i) => snapshot({ host, testState, collectedAt: minutesAgo(30 - i) }));
    const answers = await Promise.all(docs.map((d) => post(stack, d)));
    for (const a of answers) expect([200, 201]).toContain(a.status);
    for (const a of answers) expect(['accepted', 'stale']).toContain(a.body.outcome);
    const newest = docs[docs.length - 1]!;
    expect(answers[answers.length - 1]!.body.outcome).toBe('accepted');
    const results = (await getAll(stack, `results?server=${server(host)}`)).items;
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ status: 'Error' });
    // The newest snapshot is the head: one collected just before it is stale, not accepted.
    const probe = await post(stack, snapshot({ host, testState: 'Pass', collectedAt: Date.parse(newest.collectedAt as string) - 30_000 }));
    expect(probe.body.outcome).toBe('stale');
    // The events are the status changes between the accepted snapshots, in the order they were accepted.
    const accepted = answers.flatMap((a, i) => (a.body.outcome === 'accepted' ? [{ at: i, status: states[i]! }] : []));
    const changes = accepted.filter((a, i) => i === 0 || accepted[i - 1]!.status !== a.status).map((a) => a.status);
    expect((await statuses(host)).reverse()).toEqual(changes);
  });
});
