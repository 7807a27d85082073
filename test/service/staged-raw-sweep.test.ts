// The sweep of staging rows whose outbox entry is gone (the staged-raw-sweep job, run through its
// admin route as the timer runs it). A projector of the previous version projects an entry whose
// body was staged without copying it (it knows nothing of staging), and a request that stalls past
// the projector's grace can write its staging row after its entry was dropped: the sweep puts such
// a body in the slot its content belongs in, never over newer content, and removes the row; a row
// whose entry still waits is the projector's, and a second run finds nothing to do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeWork, encodeWork } from '../../src/app/projection-work';
import { OutboxStore, type StoragePolicy } from '../../src/store';
import { bucketOf, encodeKey } from '../../src/store/keys';
import { injectedError, oncePerRequest } from '../support/faults';
import { get, post } from '../support/http';
import { snapshot } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { idOf, rawTables, sentTail, serverOf, tailOf } from '../support/raw-rows';
import { bigTail, tailRules } from '../support/tail-rules';

/** A read retried after a dropped connection is still one read. */
const firstAttempt = oncePerRequest();
/**
 * `holdStage` stops the write of the staging row of snapshot `id` until `until` settles;
 * `failStageDeletes` refuses, while on, every removal of a staging row; `bodyReads` counts reads
 * of whole staging rows (a read of a few columns names them in `$select`).
 */
const faults: { holdStage?: { id: string; until: Promise<void>; reached: () => void }; failStageDeletes?: boolean; bodyReads: number } = { bodyReads: 0 };
const faultPolicy: StoragePolicy = {
  name: 'testStagedRawSweepFaults',
  async sendRequest(request, next) {
    const url = decodeURIComponent(request.url);
    const staging = url.includes('Snapshots(') && url.includes('|stage|');
    const hold = faults.holdStage;
    const body = typeof request.body === 'string' ? request.body : '';
    if (hold && staging && request.method !== 'GET' && request.method !== 'DELETE' && body.toLowerCase().includes(hold.id)) {
      faults.holdStage = undefined;
      hold.reached();
      await hold.until;
    }
    if (faults.failStageDeletes && staging && request.method === 'DELETE') throw injectedError(request, 503);
    if (staging && request.method === 'GET' && !url.includes('$select') && firstAttempt(request)) faults.bodyReads++;
    return next(request);
  },
};

/** Aged sweeps in flight: while any runs, the app's clock is 10 minutes ahead, so staging rows just written count as past the grace. */
let aging = 0;
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: tailRules, projectorIntervalMs: 0, storagePolicies: [faultPolicy], clock: () => Date.now() + (aging > 0 ? 10 * 60_000 : 0) });
});
afterAll(async () => stack?.stop());

const at = (m: number) => Date.now() - (600 - m) * 60_000;
const postOnly = async (doc: Record<string, unknown>): Promise<number> => (await post(stack, doc, { drain: false })).status;

interface SweepRun {
  staged: number;
  waiting: number;
  copied: number;
  removed: number;
  retried: number;
}

/** Runs the sweep through its route; `aged`: as if every staging row were past the projector's grace. */
async function sweep(aged = true): Promise<SweepRun> {
  if (aged) aging++;
  try {
    const res = await stack.request('jobs/staged-raw-sweep/run', { method: 'POST', key: 'admin' });
    expect(res.status).toBe(200);
    return ((await res.json()) as { result: SweepRun }).result;
  } finally {
    if (aged) aging--;
  }
}

/** The tables read directly (set once the stack runs). */
const tables = () => rawTables(stack);
const slotRows = (server: string) => tables().slotRows(server);
const stagedIds = (server: string) => tables().stagedIds(server);
const waitingEntries = (server: string) => tables().waitingEntries(server);

/**
 * Projects the server's waiting entries as the previous version's projector did: it reads no
 * `staged` in an entry, so it writes the events, index and hosts, removes the entry, and never
 * copies the staged body nor removes its staging row.
 */
async function projectAsPreviousVersion(server: string): Promise<void> {
  const outbox = new OutboxStore(stack.app.store);
  let rewritten = 0;
  for (const entry of (await outbox.list(1000)).filter((e) => e.server === server)) {
    const work = decodeWork(entry.payload);
    if (!work?.staged) continue;
    const { staged: _staged, ...older } = work;
    await outbox.put({ server: entry.server, commitId: entry.commitId, writtenAt: entry.writtenAt, payload: encodeWork(older) });
    rewritten++;
  }
  expect(rewritten).toBe(1);
  await stack.projected();
  expect(await waitingEntries(server)).toBe(0);
}

/** Makes a staging row look like one written before staging rows named their commit and slot. */
async function withoutNewColumns(server: string): Promise<void> {
  const { snapshots } = tables();
  const k = encodeKey(server);
  const filter = `PartitionKey eq 's|${bucketOf(server, 16)}' and RowKey ge '${k}|stage|' and RowKey lt '${k}|stage}'`;
  for await (const e of snapshots.listEntities({ queryOptions: { filter } })) {
    expect(e.StagedSlot).toBeDefined();
    const { CommitId: _c, StagedSlot: _s, etag: _e, timestamp: _t, ...rest } = e as Record<string, unknown>;
    await snapshots.updateEntity(rest as { partitionKey: string; rowKey: string }, 'Replace');
  }
}

describe('the sweep of staging rows whose outbox entry is gone', () => {
  it('copies a body the previous version projected without copying into its slot, where the raw query serves it; a second run does nothing', async () => {
    const host = 'SWEEP01';
    const server = serverOf(host);
    const first = snapshot({ host, tail: 'first', testState: 'Pass', collectedAt: at(1) });
    expect(await postOnly(first)).toBe(201);
    await stack.projected();
    const big = snapshot({ host, tail: bigTail(), testState: 'Warning', collectedAt: at(2) });
    expect(await postOnly(big)).toBe(201);
    await projectAsPreviousVersion(server);
    // A row of the deployment that began staging, before rows named their commit and slot.
    await withoutNewColumns(server);

    // What the upgrade left: the verdicts moved on, the raw snapshot did not.
    expect(await stagedIds(server)).toEqual([idOf(big)]);
    expect((await get(stack, `servers/${server}`)).body.rawSnapshot.snapshotId).toBe(idOf(first));
    // Within the grace the row may still belong to a request on its way to its commit: left alone.
    const young = await sweep(false);
    expect(young).toMatchObject({ copied: 0, removed: 0 });
    expect(young.waiting).toBeGreaterThanOrEqual(1);
    expect(await stagedIds(server)).toEqual([idOf(big)]);

    faults.bodyReads = 0;
    expect(await sweep()).toMatchObject({ copied: 1, removed: 1, retried: 0 });
    // The body is read once, to copy it; the rest of the sweep reads keys and a few columns.
    expect(faults.bodyReads).toBe(1);
    expect(await stagedIds(server)).toEqual([]);
    const latest = await stack.app.rawSnapshots.getLatestRaw(server, true);
    expect(latest?.snapshotId).toBe(idOf(big));
    expect(tailOf(latest?.body)).toBe(sentTail(big));
    expect((await get(stack, `servers/${server}`)).body.rawSnapshot.snapshotId).toBe(idOf(big));
    // Copied into the slot the rows name, so the next content goes to the other one and both stay.
    const before = await slotRows(server);
    expect(await sweep()).toMatchObject({ copied: 0, removed: 0, retried: 0 });
    expect(await slotRows(server)).toEqual(before);
    const next = snapshot({ host, tail: 'next', testState: 'Error', collectedAt: at(3) });
    expect(await postOnly(next)).toBe(201);
    await stack.projected();
    expect((await slotRows(server)).map((r) => r.snapshotId).sort()).toEqual([idOf(big), idOf(next)].sort());
  });

  it('two sweeps side by side copy the body once and leave the same end', async () => {
    const host = 'SWEEP02';
    const server = serverOf(host);
    expect(await postOnly(snapshot({ host, tail: 'first', testState: 'Pass', collectedAt: at(10) }))).toBe(201);
    await stack.projected();
    const big = snapshot({ host, tail: bigTail(), testState: 'Error', collectedAt: at(11) });
    expect(await postOnly(big)).toBe(201);
    await projectAsPreviousVersion(server);

    const runs = await Promise.all([sweep(), sweep()]);
    expect(runs.reduce((n, r) => n + r.copied, 0)).toBe(1);
    // A sweep that lost the race to the slot left the row for a later run, which removes it.
    await sweep();
    expect(await stagedIds(server)).toEqual([]);
    const latest = await stack.app.rawSnapshots.getLatestRaw(server, true);
    expect(latest?.snapshotId).toBe(idOf(big));
    expect(tailOf(latest?.body)).toBe(sentTail(big));
  });

  it('removes the orphan of an attempt refused after the projector dropped its entry, and touches no slot', async () => {
    const host = 'SWEEP03';
    const server = serverOf(host);
    expect(await postOnly(snapshot({ host, tail: 'base', testState: 'Pass', collectedAt: at(20) }))).toBe(201);
    await stack.projected();
    // The older post writes its entry, then stalls before its staging row; a newer post commits
    // and the projector drops the older entry (a later commit of the server was proven).
    const stalled = snapshot({ host, tail: bigTail(), testState: 'Warning', collectedAt: at(21) });
    const newer = snapshot({ host, tail: 'newer', testState: 'Error', collectedAt: at(22) });
    let release!: () => void;
    let reached!: () => void;
    const held = new Promise<void>((resolve) => (reached = resolve));
    faults.holdStage = { id: idOf(stalled), until: new Promise<void>((resolve) => (release = resolve)), reached };
    const stalledPost = post(stack, stalled, { drain: false });
    await held;
    expect(await postOnly(newer)).toBe(201);
    expect((await stack.projected()).dropped).toBe(1);
    expect(await waitingEntries(server)).toBe(0);
    // Its staging row lands now; its commit is refused, and its clean-up fails (the request dies).
    faults.failStageDeletes = true;
    try {
      release();
      expect((await stalledPost).body.outcome).toBe('stale');
    } finally {
      faults.failStageDeletes = false;
    }
    expect(await stagedIds(server)).toEqual([idOf(stalled)]);
    const slots = await slotRows(server);

    faults.bodyReads = 0;
    expect(await sweep()).toMatchObject({ copied: 0, removed: 1, retried: 0 });
    expect(faults.bodyReads).toBe(0);
    expect(await stagedIds(server)).toEqual([]);
    expect(await slotRows(server)).toEqual(slots);
    expect((await stack.app.rawSnapshots.getLatestRaw(server))?.snapshotId).toBe(idOf(newer));
  });

  it('puts a body a later commit superseded back in its own slot, beside the newer content', async () => {
    const host = 'SWEEP04';
    const server = serverOf(host);
    expect(await postOnly(snapshot({ host, tail: 'base', testState: 'Pass', collectedAt: at(30) }))).toBe(201);
    await stack.projected();
    const big = snapshot({ host, tail: bigTail(), testState: 'Warning', collectedAt: at(31) });
    expect(await postOnly(big)).toBe(201);
    await projectAsPreviousVersion(server);
    const newer = snapshot({ host, tail: 'newer', testState: 'Error', collectedAt: at(32) });
    expect(await postOnly(newer)).toBe(201);
    await stack.projected();
    expect((await slotRows(server)).map((r) => r.snapshotId)).not.toContain(idOf(big));

    // The newest two distinct contents are kept again; the newest is still served.
    expect(await sweep()).toMatchObject({ copied: 1, removed: 1 });
    expect((await slotRows(server)).map((r) => r.snapshotId).sort()).toEqual([idOf(big), idOf(newer)].sort());
    expect((await stack.app.rawSnapshots.getLatestRaw(server))?.snapshotId).toBe(idOf(newer));
    expect(await stagedIds(server)).toEqual([]);
  });

  it('never replaces newer content with the body of an older snapshot', async () => {
    const host = 'SWEEP05';
    const server = serverOf(host);
    expect(await postOnly(snapshot({ host, tail: 'base', testState: 'Pass', collectedAt: at(40) }))).toBe(201);
    await stack.projected();
    const big = snapshot({ host, tail: bigTail(), testState: 'Warning', collectedAt: at(41) });
    expect(await postOnly(big)).toBe(201);
    await projectAsPreviousVersion(server);
    // Three newer contents: the slot the big body's commit chose now holds a newer one.
    const later = [
      snapshot({ host, tail: 'c', testState: 'Error', collectedAt: at(42) }),
      snapshot({ host, tail: 'd', testState: 'Pass', collectedAt: at(43) }),
      snapshot({ host, tail: 'e', testState: 'Warning', collectedAt: at(44) }),
    ];
    for (const doc of later) {
      expect(await postOnly(doc)).toBe(201);
      await stack.projected();
    }
    const slots = await slotRows(server);
    expect(slots.map((r) => r.snapshotId).sort()).toEqual([idOf(later[1]!), idOf(later[2]!)].sort());

    expect(await sweep()).toMatchObject({ copied: 0, removed: 1 });
    expect(await slotRows(server)).toEqual(slots);
    expect(await stagedIds(server)).toEqual([]);
    expect((await stack.app.rawSnapshots.getLatestRaw(server))?.snapshotId).toBe(idOf(later[2]!));
  });

  it('leaves a staging row whose outbox entry still waits to the projector', async () => {
    const host = 'SWEEP06';
    const server = serverOf(host);
    expect(await postOnly(snapshot({ host, tail: 'base', testState: 'Pass', collectedAt: at(50) }))).toBe(201);
    await stack.projected();
    const big = snapshot({ host, tail: bigTail(), testState: 'Error', collectedAt: at(51) });
    expect(await postOnly(big)).toBe(201);
    const slots = await slotRows(server);

    const run = await sweep();
    expect(run).toMatchObject({ copied: 0, removed: 0 });
    expect(run.waiting).toBeGreaterThanOrEqual(1);
    expect(await stagedIds(server)).toEqual([idOf(big)]);
    expect(await waitingEntries(server)).toBe(1);
    expect(await slotRows(server)).toEqual(slots);

    await stack.projected();
    expect(await stagedIds(server)).toEqual([]);
    expect((await stack.app.rawSnapshots.getLatestRaw(server))?.snapshotId).toBe(idOf(big));
  });

  it('finds staging rows by their keys with their age, and copies one into a slot only while the slot is as it was read', async () => {
    const server = serverOf('SWEEP07');
    const { rawSnapshots, staged } = stack.app;
    const base = { server, receivedAt: Date.now() };
    const raw = (id: string, minute: number) => ({ ...base, snapshotId: id, contentHash: `sha256:${id}`, collectedAt: at(minute), body: `{"v":"${id}"}` });
    await staged.putStagedRaw(raw('staged', 60), 'commit-7', 0);
    const found = (await staged.listStaged()).find((k) => k.server === server);
    expect(found?.commitId).toBe('commit-7');
    expect(Math.abs(Date.now() - found!.stagedAt)).toBeLessThan(60_000);
    expect(await staged.readStagedMeta(server, 'commit-7')).toMatchObject({ snapshotId: 'staged', commitId: 'commit-7', slot: 0, contentHash: 'sha256:staged' });

    // Empty when read, written before the copy (the projector, with newer content): no copy.
    expect(await staged.readSlot(server, 0)).toBeUndefined();
    await rawSnapshots.putRawSnapshots([{ record: raw('newer', 61), slot: 0 }]);
    expect(await staged.copyIfUnchanged(server, 'commit-7', 0, undefined)).toBe('conflict');
    // Read, then written again before the copy: no copy either.
    const read = await staged.readSlot(server, 0);
    expect(read?.meta.snapshotId).toBe('newer');
    await rawSnapshots.putRawSnapshots([{ record: raw('newest', 62), slot: 0 }]);
    expect(await staged.copyIfUnchanged(server, 'commit-7', 0, read!.etag)).toBe('conflict');
    expect((await rawSnapshots.getLatestRaw(server, true))?.body).toBe('{"v":"newest"}');
    // Unchanged since it was read: copied.
    const now = await staged.readSlot(server, 0);
    expect(await staged.copyIfUnchanged(server, 'commit-7', 0, now!.etag)).toBe('copied');
    expect((await rawSnapshots.getLatestRaw(server, true))?.body).toBe('{"v":"staged"}');
    await staged.deleteStagedRaw([{ server, commitId: 'commit-7' }]);
    expect(await staged.copyIfUnchanged(server, 'commit-7', 0, undefined)).toBe('gone');
    expect((await staged.listStaged()).some((k) => k.server === server)).toBe(false);
  });

  it('with no staging row left, a run costs one listing of the Snapshots keys', async () => {
    expect((await sweep()).staged).toBe(0);
    stack.app.projectorStore.counter.reset();
    expect(await sweep()).toEqual({ staged: 0, waiting: 0, copied: 0, removed: 0, retried: 0 });
    expect(Object.fromEntries(stack.app.projectorStore.counter.byTable)).toEqual({ Snapshots: 1 });
  });
});
