// What a post answers when its snapshot id is already known: the contract says 200 duplicate (the
// stored outcome, nothing written) for any known id. A post that fails before its commit stores
// nothing, so its retry is the first time: 201, once. A commit whose answer is lost on the way is
// found again by the same request (the rows remember its commit id), which then answers 201.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoragePolicy } from '../../src/store';
import { injectedError, lostAnswers } from '../support/faults';
import { get, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

/** Requests matching `when` fail with `status` while it is set. */
const fault: { when?: (url: string, body: string) => boolean; status: number } = { status: 503 };
const faultPolicy: StoragePolicy = {
  name: 'outcomeFaults',
  sendRequest(request, next) {
    const body = typeof request.body === 'string' ? request.body : '';
    if (fault.when?.(request.url, body)) {
      throw injectedError(request, fault.status);
    }
    return next(request);
  },
};
const lostAnswer = lostAnswers('outcomeLostAnswers');

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [faultPolicy, lostAnswer.policy] });
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

  it('of the current snapshot but collected at another time: 409 snapshot_id_reused, nothing written, the stored verdict stays', async () => {
    const first = snapshot({ host: 'REUSED', testState: 'Warning', collectedAt: minutesAgo(10) });
    expect((await post(stack, first)).status).toBe(201);
    const before = (await get(stack, `results?server=${server('REUSED')}`)).body.items;
    // A new collection sent under the old id (a sender's bug): changed content, later time.
    const reused = snapshot({ host: 'REUSED', testState: 'Pass', collectedAt: minutesAgo(5), snapshotId: String(first.snapshotId) });
    stack.roundTrips.reset();
    const r = await post(stack, reused);
    expect(r.status).toBe(409);
    expect(r.body).toEqual({
      error: 'snapshot_id_reused',
      message: `Snapshot ${String(first.snapshotId)} was accepted collected at ${String(first.collectedAt)}, and this one was collected at ${String(reused.collectedAt)}: a new collection needs a new snapshotId, so nothing was stored.`,
    });
    expect(stack.roundTrips.writes).toBe(0);
    const after = (await get(stack, `results?server=${server('REUSED')}`)).body.items;
    expect(after).toEqual(before);
    expect(before.map((i: Json) => i.status)).toContain('Warning');
    // The same id with the same collection time is a resend: still 200 duplicate.
    expect((await post(stack, first)).body.outcome).toBe('duplicate');
  });
});

describe('a post that failed around its commit', () => {
  it('an outage at its outbox entry: 503 and nothing stored; the retry answers 201 accepted, once; a later repeat 200 duplicate', async () => {
    const host = 'OBXFAIL';
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(10) }))).status).toBe(201);
    const doc = snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) });
    fault.when = (url) => url.includes('/Outbox(');
    fault.status = 503;
    const first = await post(stack, doc);
    fault.when = undefined;
    expect(first.status).toBe(503);
    expect((await get(stack, `servers/${server(host)}`)).body.results[0].status).toBe('Pass');

    const retry = await post(stack, doc);
    expect(retry.status).toBe(201);
    expect(retry.body.outcome).toBe('accepted');
    expect(retry.body.results.find((r: Json) => r.ruleId === 'test-alpha').status).toBe('Warning');
    const repeat = await post(stack, doc);
    expect(repeat.status).toBe(200);
    expect(repeat.body.outcome).toBe('duplicate');
    expect((await getAll(stack, `results?rule=test-alpha&status=Warning`)).items.map((i: Json) => i.server)).toContain(server(host));
    expect((await getAll(stack, `events?server=${server(host)}&rule=test-alpha`)).items.map((e: Json) => e.toStatus)).toEqual(['Warning', 'Pass']);
  });

  it('concurrent retries after such an outage share one 201', async () => {
    const host = 'OBXCONC';
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(10) }))).status).toBe(201);
    const doc = snapshot({ host, testState: 'Error', collectedAt: minutesAgo(5) });
    fault.when = (url) => url.includes('/Outbox(');
    fault.status = 503;
    expect((await post(stack, doc)).status).toBe(503);
    fault.when = undefined;
    const retries = await Promise.all(Array.from({ length: 4 }, () => post(stack, doc)));
    expect(retries.filter((r) => r.status === 201 && r.body.outcome === 'accepted')).toHaveLength(1);
    expect(retries.filter((r) => r.status === 200 && r.body.outcome === 'duplicate')).toHaveLength(3);
    const events = (await getAll(stack, `events?server=${server(host)}&rule=test-alpha`)).items;
    expect(events.map((e: Json) => e.toStatus)).toEqual(['Error', 'Pass']);
  });

  it('a commit whose answer was lost: the request finds its own commit and answers 201; a repeat is 200 duplicate; one event', async () => {
    const host = 'LOSTANS';
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(10) }))).status).toBe(201);
    const doc = snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) });
    // The commit reaches storage; its answer does not (once).
    lostAnswer.when = ({ url, body }) => url.endsWith('$batch') && body.includes('/Results(');
    const first = await post(stack, doc);
    expect(lostAnswer.when).toBeUndefined(); // it fired
    expect(first.status).toBe(201);
    expect(first.body.outcome).toBe('accepted');
    const repeat = await post(stack, doc);
    expect(repeat.status).toBe(200);
    expect(repeat.body.outcome).toBe('duplicate');
    expect((await getAll(stack, `events?server=${server(host)}&rule=test-alpha`)).items.map((e: Json) => e.toStatus)).toEqual(['Warning', 'Pass']);
  });
});
