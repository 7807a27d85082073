// What a status change costs in storage: the one partition read and the commit, then each
// projection by point operations only (no table query: a query is a partition scan on Azure and a
// table scan on Azurite), and no ServerKeys read once the key is tagged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoragePolicy } from '../../src/store';
import { post } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

const seen: { method: string; path: string; query: boolean }[] = [];
const recorder: StoragePolicy = {
  name: 'testRecordRequests',
  sendRequest(request, next) {
    const url = new URL(request.url);
    const path = decodeURIComponent(url.pathname).replace(/^\/devstoreaccount1/, '');
    // A query is `Table()` (with or without $filter); a point read names its keys.
    seen.push({ method: request.method, path, query: request.method === 'GET' && /^\/[A-Za-z0-9]+\(\)$/.test(path) });
    return next(request);
  },
};

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [recorder] });
});
afterAll(async () => stack?.stop());

const minutesAgo = (m: number) => Date.now() - m * 60_000;

describe('storage cost of a status change', () => {
  it('one partition query, the commit, and point operations for events, history, index, raw and outbox', async () => {
    const host = 'COST01';
    for (const [i, state] of ['Pass', 'Pass'].entries()) expect((await post(stack, snapshot({ host, testState: state, collectedAt: minutesAgo(30 - i) }))).status).toBe(201);
    seen.length = 0;
    stack.app.keyStore.counter.reset();
    const r = await post(stack, snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(10) }));
    expect(r.status).toBe(201);
    expect(r.body.results.find((x: { ruleId: string }) => x.ruleId === 'test-alpha')?.status).toBe('Warning');

    // The server's partition, and the active waivers (one small partition) for the new finding's alert.
    const queries = seen.filter((s) => s.query).map((s) => s.path);
    expect(queries.sort()).toEqual(['/Results()', '/Waivers()']);
    expect(stack.app.keyStore.counter.count).toBe(0);
    const batches = seen.filter((s) => s.path.endsWith('$batch')).length;
    // commit, events, history, rule index, outbox clear
    expect(batches).toBe(5);
    // the two queries, two index point reads (counts row, the server's row), the raw upsert
    expect(seen.length).toBe(batches + 5);
  });
});
