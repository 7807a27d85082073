// What a post answers when its snapshot id is already known: the contract says 200 duplicate (the
// stored outcome, nothing written) for any known id, and the answer a retry gets after the first
// attempt failed past its commit is what that commit was: 201 accepted, given once per snapshot.
import { RestError } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoragePolicy } from '../../src/store';
import { getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

/** Requests matching `when` fail with `status` while it is set. */
const fault: { when?: (url: string, body: string) => boolean; status: number } = { status: 503 };
const faultPolicy: StoragePolicy = {
  name: 'outcomeFaults',
  sendRequest(request, next) {
    const body = typeof request.body === 'string' ? request.body : '';
    if (fault.when?.(request.url, body)) {
      const headers = { get: () => undefined, has: () => false } as never;
      throw new RestError('Injected storage fault', { statusCode: fault.status, request, response: { status: fault.status, headers, request } as never });
    }
    return next(request);
  },
};
const batchFor = (table: string) => (url: string, body: string) => url.endsWith('$batch') && body.includes(`/${table}`);

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [faultPolicy] });
});
afterAll(async () => stack?.stop());

const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
const minutesAgo = (m: number) => Date.now() - m * 60_000;

describe('a repeat of a known snapshot id', () => {
  it('of an older, already accepted snapshot: 200 duplicate with that snapshot\'s verdicts, nothing written', async () => {
    const older = snapshot({ host: 'OLDDUP', testState: 'Warning', collectedAt: minutesAgo(20) });
    const newer = snapshot({ host: 'OLDDUP', testState: 'Pass', collectedAt: minutesAgo(10) });
    expect((await post(stack, older)).status).toBe(201);
    expect((await post(stack, newer)).status).toBe(201);
    stack.roundTrips.reset();
    const again = await post(stack, older);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ snapshotId: older.snapshotId, server: server('OLDDUP'), outcome: 'duplicate' });
    expect(again.body.results.find((r: Json) => r.ruleId === 'test-alpha').status).toBe('Warning');
    expect(stack.roundTrips.writes).toBe(0);
  });

  it('of a snapshot older than the stored one and never seen: still 200 stale', async () => {
    expect((await post(stack, snapshot({ host: 'LATE01', collectedAt: minutesAgo(5) }))).status).toBe(201);
    const late = await post(stack, snapshot({ host: 'LATE01', collectedAt: minutesAgo(50) }));
    expect(late.status).toBe(200);
    expect(late.body.outcome).toBe('stale');
  });

  it('of the current snapshot, after a complete first post: 200 duplicate', async () => {
    const doc = snapshot({ host: 'CURDUP', testState: 'Error' });
    expect((await post(stack, doc)).status).toBe(201);
    const again = await post(stack, doc);
    expect(again.status).toBe(200);
    expect(again.body.outcome).toBe('duplicate');
  });
});

describe('the retry of a post that failed after its commit', () => {
  it('after a rule-index conflict: the retry answers 201 accepted, once; a later repeat 200 duplicate', async () => {
    const host = 'IDXCONF';
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(10) }))).status).toBe(201);
    const doc = snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) });
    fault.when = batchFor('RuleIndex');
    fault.status = 412;
    const first = await post(stack, doc);
    fault.when = undefined;
    expect(first.status).toBe(503);

    const retry = await post(stack, doc);
    expect(retry.status).toBe(201);
    expect(retry.body.outcome).toBe('accepted');
    expect(retry.body.results.find((r: Json) => r.ruleId === 'test-alpha').status).toBe('Warning');
    const repeat = await post(stack, doc);
    expect(repeat.status).toBe(200);
    expect(repeat.body.outcome).toBe('duplicate');
    expect((await getAll(stack, `results?rule=test-alpha&status=Warning`)).items.map((i: Json) => i.server)).toContain(server(host));
  });

  it('after an events outage: the same, and concurrent retries share one 201', async () => {
    const host = 'EVFAIL';
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(10) }))).status).toBe(201);
    const doc = snapshot({ host, testState: 'Error', collectedAt: minutesAgo(5) });
    fault.when = batchFor('Events');
    fault.status = 503;
    expect((await post(stack, doc)).status).toBe(503);
    fault.when = undefined;
    const retries = await Promise.all(Array.from({ length: 4 }, () => post(stack, doc)));
    expect(retries.filter((r) => r.status === 201 && r.body.outcome === 'accepted')).toHaveLength(1);
    expect(retries.filter((r) => r.status === 200 && r.body.outcome === 'duplicate')).toHaveLength(3);
    const events = (await getAll(stack, `events?server=${server(host)}&rule=test-alpha`)).items;
    expect(events.map((e: Json) => e.toStatus)).toEqual(['Error', 'Pass']);
  });
});
