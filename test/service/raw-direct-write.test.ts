// A raw body too large to travel in its outbox entry is staged by the request in a Snapshots row
// of its own commit attempt, and the projector copies it into its slot in commit order. Older
// entries of the same server still waiting must not replace it (nothing accepted is lost); an
// attempt refused at its commit must not replace the accepted body either, nor leave its staging
// row behind; a projection cut short between the copy and the clean-up is simply run again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoragePolicy } from '../../src/store';
import { bucketOf, encodeKey } from '../../src/store/keys';
import { injectedError } from '../support/faults';
import { get, post } from '../support/http';
import { snapshot } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { idOf, rawTables, sentTail, serverOf, tailOf } from '../support/raw-rows';
import { bigTail, tailRules } from '../support/tail-rules';

/**
 * Storage faults of this file, armed by the tests: `hold` stops the first write of a Snapshots row
 * that carries snapshot `id` (its body) until `until` settles; the `fail…` switches refuse, while
 * on, a commit of Results rows, the removal of a staging row, the projector's clearing of the outbox;
 * `stagedReads` counts reads of staging rows in flight (each made to take 50 ms).
 */
const faults: {
  hold?: { id: string; until: Promise<void>; reached: () => void };
  failCommits?: boolean;
  failStageDeletes?: boolean;
  failOutboxClear?: boolean;
  stagedReads?: { now: number; max: number; total: number };
} = {};
const faultPolicy: StoragePolicy = {
  name: 'testRawBodyFaults',
  async sendRequest(request, next) {
    const body = typeof request.body === 'string' ? request.body : '';
    const url = decodeURIComponent(request.url);
    const hold = faults.hold;
    if (hold && url.includes('Snapshots(') && request.method !== 'GET' && request.method !== 'DELETE' && body.toLowerCase().includes(hold.id)) {
      faults.hold = undefined;
      hold.reached();
      await hold.until;
    }
    const batch = url.endsWith('$batch');
    if (faults.failCommits && batch && body.includes('Results(')) throw injectedError(request, 503);
    if (faults.failStageDeletes && request.method === 'DELETE' && url.includes('Snapshots(') && url.includes('|stage|')) throw injectedError(request, 503);
    if (faults.failOutboxClear && batch && body.includes('Outbox(') && body.includes('DELETE ')) throw injectedError(request, 503);
    const reads = faults.stagedReads;
    if (reads && request.method === 'GET' && url.includes('Snapshots(') && url.includes('|stage|')) {
      reads.total++;
      reads.max = Math.max(reads.max, ++reads.now);
      try {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return await next(request);
      } finally {
        reads.now--;
      }
    }
    return next(request);
  },
};

let stack: TestStack;
beforeAll(async () => {
  // The projector runs only when the test drains it: older entries wait while newer commits land.
  stack = await startTestStack({ rules: tailRules, projectorIntervalMs: 0, storagePolicies: [faultPolicy] });
});
afterAll(async () => stack?.stop());

const at = (m: number) => Date.now() - (600 - m) * 60_000;

/** Posts without draining the projector: the entries wait until the test drains them. */
const postOnly = async (doc: Record<string, unknown>): Promise<number> => (await post(stack, doc, { drain: false })).status;

/** The tables read directly (set once the stack runs). */
const raw = () => rawTables(stack);
const rawRows = (server: string) => raw().rawRows(server);
const storedIds = (server: string) => raw().storedIds(server);
const stagedIds = (server: string) => raw().stagedIds(server);
const waitingEntries = (server: string) => raw().waitingEntries(server);

describe('a raw body too large for its outbox entry', () => {
  it('survives the projection of older entries that are still waiting; the newest snapshot is served', async () => {
    const host = 'RAWD01';
    const server = serverOf(host);
    const big = bigTail();
    const docs = [
      snapshot({ host, tail: 'one', testState: 'Pass', collectedAt: at(1) }),
      snapshot({ host, tail: 'two', testState: 'Warning', collectedAt: at(2) }),
      snapshot({ host, tail: big, testState: 'Error', collectedAt: at(3) }),
    ];
    const ids = docs.map(idOf);
    for (const doc of docs.slice(0, 2)) expect(await postOnly(doc)).toBe(201);
    // One round trip more than a status change: the read, the entry, the staging row, the commit.
    stack.roundTrips.reset();
    expect(await postOnly(docs[2]!)).toBe(201);
    expect(Object.fromEntries(stack.roundTrips.byTable)).toEqual({ Results: 1, Outbox: 1, Snapshots: 1, $batch: 1 });

    // The third body waits in its staging row, which no reader takes for a slot.
    expect(await stagedIds(server)).toEqual([ids[2]]);
    expect(await stack.app.rawSnapshots.getLatestRaw(server)).toBeUndefined();

    const run = await stack.projected();
    expect(run.projected).toBe(3);
    const after = await stack.app.rawSnapshots.getLatestRaw(server, true);
    expect(after?.snapshotId).toBe(ids[2]);
    expect(tailOf(after?.body)).toBe(big);
    const res = await get(stack, `servers/${server}`);
    expect(res.status).toBe(200);
    expect(res.body.rawSnapshot.snapshotId).toBe(ids[2]);
    // The newest two distinct contents are both kept, and the staging row is gone.
    expect(await storedIds(server)).toEqual(expect.arrayContaining([ids[2], ids[1]]));
    expect(await stagedIds(server)).toEqual([]);
  });

  it('keeps the newest two distinct contents when bodies go both ways, the projector held back', async () => {
    const host = 'RAWD02';
    const server = serverOf(host);
    const steps: { tail: string; state: string }[] = [
      { tail: 'a', state: 'Pass' },
      { tail: bigTail(), state: 'Warning' },
      { tail: 'c', state: 'Pass' },
      { tail: bigTail(), state: 'Error' },
      { tail: bigTail(), state: 'Warning' },
    ];
    const ids: string[] = [];
    for (const [i, s] of steps.entries()) {
      const doc = snapshot({ host, tail: s.tail, testState: s.state, collectedAt: at(10 + i) });
      ids.push(idOf(doc));
      expect(await postOnly(doc)).toBe(201);
    }
    expect(await stagedIds(server)).toEqual(expect.arrayContaining([ids[1], ids[3], ids[4]]));
    expect((await stack.projected()).projected).toBe(5);
    const latest = await stack.app.rawSnapshots.getLatestRaw(server, true);
    expect(latest?.snapshotId).toBe(ids[4]);
    expect(tailOf(latest?.body)).toBe(steps[4]!.tail);
    expect(await storedIds(server)).toEqual(expect.arrayContaining([ids[4], ids[3]]));
    expect(await stagedIds(server)).toEqual([]);

    // A small one after them goes through the outbox entry; the big one before it stays.
    const last = snapshot({ host, tail: 'f', testState: 'Pass', collectedAt: at(20) });
    expect(await postOnly(last)).toBe(201);
    await stack.projected();
    expect((await stack.app.rawSnapshots.getLatestRaw(server))?.snapshotId).toBe(idOf(last));
    expect(await storedIds(server)).toEqual(expect.arrayContaining([idOf(last), ids[4]]));
  });

  it('a repeat that hands over rows an earlier version left owing the raw snapshot stages the body for the slot the rows name', async () => {
    const host = 'RAWD03';
    const server = serverOf(host);
    const { results, outbox, snapshots } = raw();
    expect(await postOnly(snapshot({ host, tail: 'a', testState: 'Pass', collectedAt: at(30) }))).toBe(201);
    await stack.projected();
    const big = snapshot({ host, tail: bigTail(), testState: 'Warning', collectedAt: at(31) });
    const bigId = idOf(big);
    expect(await postOnly(big)).toBe(201);
    // What an earlier version left: its rows flag what it still owed (it knew only slots 0 and 1),
    // no outbox entry, and the body never written.
    for await (const e of outbox.listEntities({ queryOptions: { filter: `Server eq '${server}'` } })) await outbox.deleteEntity(String(e.partitionKey), String(e.rowKey));
    for await (const row of results.listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey(server)}'` } })) {
      const flags = { EventPending: true, IndexPending: true, SyncPending: true, AcceptPending: true, RawSlot: 1 };
      await results.updateEntity({ partitionKey: String(row.partitionKey), rowKey: String(row.rowKey), ...flags }, 'Merge');
    }
    for (const r of await rawRows(server)) if (r.snapshotId === bigId) await snapshots.deleteEntity(`s|${bucketOf(server, 16)}`, `${encodeKey(server)}|${r.slot}`);
    expect((await rawRows(server)).map((r) => r.snapshotId)).not.toContain(bigId);

    // The collector's retry hands the rows over; the body is too large for the entry, so it is
    // staged, and the rows keep naming the slot it goes to.
    expect(await postOnly(big)).toBe(201);
    expect(await stagedIds(server)).toEqual([bigId]);
    const slots = new Set<unknown>();
    for await (const row of results.listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey(server)}'`, select: ['RawSlot'] } })) slots.add(row.RawSlot);
    expect([...slots]).toEqual([1]);
    await stack.projected();
    expect((await stack.app.rawSnapshots.getLatestRaw(server))?.snapshotId).toBe(bigId);
    expect(await rawRows(server)).toEqual(expect.arrayContaining([{ slot: 'slot1', snapshotId: bigId }]));
    expect(await stagedIds(server)).toEqual([]);

    // The next large body goes to the other slot: the handed-over one stays.
    const next = snapshot({ host, tail: bigTail(), testState: 'Error', collectedAt: at(32) });
    expect(await postOnly(next)).toBe(201);
    await stack.projected();
    expect((await stack.app.rawSnapshots.getLatestRaw(server))?.snapshotId).toBe(idOf(next));
    expect(await storedIds(server)).toEqual(expect.arrayContaining([idOf(next), bigId]));
  });

  it('two large snapshots of one server at once: the refused one, its body written after the other committed, replaces nothing and leaves nothing', async () => {
    const host = 'RAWD04';
    const server = serverOf(host);
    const first = snapshot({ host, tail: 'base', testState: 'Pass', collectedAt: at(40) });
    expect(await postOnly(first)).toBe(201);
    await stack.projected();
    // Both read the same rows; the older one's body is held until the newer one has committed, so
    // it lands after that commit, and its own commit is then refused (the rows moved on).
    const older = snapshot({ host, tail: bigTail(), testState: 'Warning', collectedAt: at(41) });
    const newer = snapshot({ host, tail: bigTail(), testState: 'Error', collectedAt: at(42) });
    let release!: () => void;
    let reached!: () => void;
    const held = new Promise<void>((resolve) => (reached = resolve));
    faults.hold = { id: idOf(older), until: new Promise<void>((resolve) => (release = resolve)), reached };
    const olderPost = post(stack, older, { drain: false });
    await held;
    const newerPost = await post(stack, newer, { drain: false });
    expect(newerPost.status).toBe(201);
    release();
    const olderAnswer = await olderPost;
    expect(olderAnswer.status).toBe(200);
    expect(olderAnswer.body.outcome).toBe('stale');

    // The refused attempt took its staging row with it; the accepted one waits for the projector.
    expect(await stagedIds(server)).toEqual([idOf(newer)]);
    await stack.projected();
    const latest = await stack.app.rawSnapshots.getLatestRaw(server, true);
    expect(latest?.snapshotId).toBe(idOf(newer));
    expect(tailOf(latest?.body)).toBe(sentTail(newer));
    expect((await get(stack, `servers/${server}`)).body.rawSnapshot.snapshotId).toBe(idOf(newer));
    expect(await storedIds(server)).not.toContain(idOf(older));
    expect(await stagedIds(server)).toEqual([]);
  });

  it('an attempt that never committed: the projector drops its entry and removes its staging row', async () => {
    const host = 'RAWD05';
    const server = serverOf(host);
    expect(await postOnly(snapshot({ host, tail: 'base', testState: 'Pass', collectedAt: at(50) }))).toBe(201);
    await stack.projected();
    const lost = snapshot({ host, tail: bigTail(), testState: 'Error', collectedAt: at(51) });
    faults.failCommits = true;
    try {
      expect(await postOnly(lost)).toBe(503);
    } finally {
      faults.failCommits = false;
    }
    // Its entry and staging row stay: the request could not tell whether the commit landed.
    expect(await stagedIds(server)).toEqual([idOf(lost)]);
    const later = snapshot({ host, tail: 'later', testState: 'Warning', collectedAt: at(52) });
    expect(await postOnly(later)).toBe(201);

    const run = await stack.projected();
    expect(run.dropped).toBe(1);
    expect(await stagedIds(server)).toEqual([]);
    expect(await waitingEntries(server)).toBe(0);
    expect((await stack.app.rawSnapshots.getLatestRaw(server))?.snapshotId).toBe(idOf(later));
    expect(await storedIds(server)).not.toContain(idOf(lost));
  });

  it('a projection cut short after the copy, before or after the staging row went, is run again to the same end', async () => {
    const host = 'RAWD06';
    const server = serverOf(host);
    expect(await postOnly(snapshot({ host, tail: 'base', testState: 'Pass', collectedAt: at(60) }))).toBe(201);
    await stack.projected();

    // Cut between the copy and the removal of the staging row.
    const one = snapshot({ host, tail: bigTail(), testState: 'Warning', collectedAt: at(61) });
    expect(await postOnly(one)).toBe(201);
    faults.failStageDeletes = true;
    try {
      await expect(stack.projected()).rejects.toThrow();
    } finally {
      faults.failStageDeletes = false;
    }
    expect((await stack.app.rawSnapshots.getLatestRaw(server))?.snapshotId).toBe(idOf(one));
    expect(await stagedIds(server)).toEqual([idOf(one)]);
    expect(await waitingEntries(server)).toBe(1);
    expect((await stack.projected()).projected).toBe(1);
    let latest = await stack.app.rawSnapshots.getLatestRaw(server, true);
    expect(latest?.snapshotId).toBe(idOf(one));
    expect(tailOf(latest?.body)).toBe(sentTail(one));
    expect(await stagedIds(server)).toEqual([]);
    expect(await waitingEntries(server)).toBe(0);

    // Cut after the staging row went, before the entry did: the rerun has nothing left to copy.
    const two = snapshot({ host, tail: bigTail(), testState: 'Error', collectedAt: at(62) });
    expect(await postOnly(two)).toBe(201);
    faults.failOutboxClear = true;
    try {
      await expect(stack.projected()).rejects.toThrow();
    } finally {
      faults.failOutboxClear = false;
    }
    expect(await stagedIds(server)).toEqual([]);
    expect(await waitingEntries(server)).toBe(1);
    expect((await stack.projected()).projected).toBe(1);
    latest = await stack.app.rawSnapshots.getLatestRaw(server, true);
    expect(latest?.snapshotId).toBe(idOf(two));
    expect(tailOf(latest?.body)).toBe(sentTail(two));
    expect(await storedIds(server)).toEqual(expect.arrayContaining([idOf(two), idOf(one)]));
    expect(await waitingEntries(server)).toBe(0);
  });

  it('a batch of many staged bodies holds only a few of them at once', async () => {
    const docs = Array.from({ length: 6 }, (_, i) => snapshot({ host: `RAWM0${i}`, tail: bigTail(), testState: 'Warning', collectedAt: at(70) }));
    for (const doc of docs) expect(await postOnly(doc)).toBe(201);
    faults.stagedReads = { now: 0, max: 0, total: 0 };
    try {
      await stack.projected();
      // Read one by one as they are copied (two at a time), not all six with the batch.
      expect(faults.stagedReads.total).toBe(6);
      expect(faults.stagedReads.max).toBeGreaterThan(0);
      expect(faults.stagedReads.max).toBeLessThanOrEqual(2);
    } finally {
      faults.stagedReads = undefined;
    }
    for (const doc of docs) {
      const server = serverOf((doc.host as { name: string }).name);
      const latest = await stack.app.rawSnapshots.getLatestRaw(server, true);
      expect(latest?.snapshotId).toBe(idOf(doc));
      expect(tailOf(latest?.body)).toBe(sentTail(doc));
      expect(await stagedIds(server)).toEqual([]);
    }
  });
});
