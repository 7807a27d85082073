// An outbox entry the projector cannot project must stop only itself: the batch is projected again
// one entry at a time, the entry that fails alone is set aside (held) with its error and a record
// that alerts, every other server's changes are projected and alerted on, and an operator sees the
// held entries and requeues them once the cause is fixed. An outage holds nothing: the run stops,
// every entry stays, and a record says since when the projector has been failing.
import { RestError } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectionStores } from '../../src/app/create-app';
import { RECENT_COMMITS } from '../../src/app/ingest';
import { probePositions } from '../../src/app/projection-one-by-one';
import { Projector } from '../../src/app/projector';
import { decodeWork, encodeWork, type ProjectionWork } from '../../src/app/projection-work';
import { OutboxStore, RawSnapshotStore, type StoragePolicy } from '../../src/store';
import type { TableClients } from '../../src/store/client';
import { injectedError } from '../support/faults';
import { alertRecords, getAll, type Json, minutesAgo, post, postUndrained } from '../support/http';
import { serverOf } from '../support/raw-rows';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { stackTables, startTestStack, type TestStack } from '../support/stack';
import { countsAgree } from '../support/tables';
import { until } from '../support/until';

/** While set, every rule-index request that names this server fails with `status`. */
const fault: { server?: string; status: number } = { status: 400 };
const faultPolicy: StoragePolicy = {
  name: 'testRuleIndexFault',
  sendRequest(request, next) {
    const body = typeof request.body === 'string' ? request.body : '';
    const text = decodeURIComponent(request.url) + body;
    if (fault.server && /RuleIndex/.test(text) && text.includes(fault.server)) {
      if (fault.status >= 500) throw injectedError(request, fault.status);
      throw new RestError('The request is invalid (test).', { statusCode: fault.status, code: 'InvalidInput' });
    }
    return next(request);
  },
};

/** While `match` is set, the first outbox delete whose text it matches waits for `release`. */
const gate: { match?: (text: string) => boolean; arrived: boolean; release: () => void; open: Promise<void> } = { arrived: false, release: () => undefined, open: Promise.resolve() };
const gatePolicy: StoragePolicy = {
  name: 'testOutboxDeleteGate',
  async sendRequest(request, next) {
    const text = decodeURIComponent(request.url) + (typeof request.body === 'string' ? decodeURIComponent(request.body) : '');
    if (gate.match && (request.method === 'DELETE' || /\$batch/.test(request.url)) && /Outbox/.test(text) && gate.match(text)) {
      gate.match = undefined;
      gate.arrived = true;
      await gate.open;
    }
    return next(request);
  },
};
const closeGate = (match: (text: string) => boolean) => {
  gate.arrived = false;
  gate.open = new Promise<void>((r) => (gate.release = r));
  gate.match = match;
};

let stack: TestStack;
let tables: TableClients;
let outbox: OutboxStore;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [faultPolicy, gatePolicy], projectorIntervalMs: 0 });
  tables = stackTables(stack);
  outbox = new OutboxStore(stack.app.projectorStore);
});
afterAll(async () => stack?.stop());

const postOnly = (doc: Record<string, unknown>) => postUndrained(stack, doc);
const records = (name: string, server: string) => alertRecords(stack).filter((a) => a.name === name && a.fields.server === server);
const heldRows = async () => {
  const out: Record<string, unknown>[] = [];
  for await (const e of tables.outbox.listEntities({ queryOptions: { filter: "PartitionKey eq '~held'" } })) out.push(e);
  return out;
};
/** An entry as a bug (or another release) could leave it: index moves without their records. */
const breakEntry = async (entry: { server: string; commitId: string; writtenAt: number; payload: string }) => {
  const work = decodeWork(entry.payload)!;
  const broken = { ...work, index: work.index.map((m) => ({ from: m.from })) } as unknown as ProjectionWork;
  await outbox.put({ server: entry.server, commitId: entry.commitId, writtenAt: entry.writtenAt, payload: encodeWork(broken) });
};
/** Out of the way of the next tests: the held changes go, and a later one puts each server's index row in place. */
const clearHeld = async (...hosts: string[]) => {
  for (const row of await heldRows()) await tables.outbox.deleteEntity('~held', String(row.rowKey));
  for (const host of hosts) expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(1) }))).status).toBe(201);
  await countsAgree(stack);
};
const admin = async (path: string, method = 'POST') => {
  const res = await stack.request(path, { method, key: 'admin' });
  return { status: res.status, body: (await res.json()) as Json };
};

describe('an entry the projector cannot project', () => {
  it('is set aside with its error, and every other server\'s change is projected and alerted on', async () => {
    for (const host of ['GOOD01', 'BAD01']) expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(30) }))).status).toBe(201);
    await postOnly(snapshot({ host: 'GOOD01', testState: 'Warning', collectedAt: minutesAgo(5) }));
    await postOnly(snapshot({ host: 'BAD01', testState: 'Warning', collectedAt: minutesAgo(5) }));
    // BAD01's entry as a bug (or another release) could leave it: an index move without its record.
    const bad = (await outbox.list(100)).find((e) => e.server === serverOf('BAD01'))!;
    await breakEntry(bad);

    const run = await stack.projected();
    expect(run).toMatchObject({ projected: 1, held: 1 });
    // The good server's change went through: its alert record, its index row.
    expect(records('FleetPosture.NewFinding', serverOf('GOOD01'))).toHaveLength(1);
    const warnings = (await getAll(stack, 'results?rule=test-alpha&status=Warning')).items.map((r: Json) => r.server);
    expect(warnings).toContain(serverOf('GOOD01'));
    // The bad one is kept aside, not lost, and alerted on.
    expect(await outbox.list(100)).toEqual([]);
    const held = records('FleetPosture.ProjectionHeld', serverOf('BAD01'));
    expect(held).toHaveLength(1);
    expect(held[0]!.fields).toMatchObject({ commitId: bad.commitId });
    expect(String(held[0]!.fields.error)).toMatch(/TypeError/);
    const seen = await admin('jobs/projector', 'GET');
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ job: 'projector', more: false, held: [{ server: serverOf('BAD01'), commitId: bad.commitId }] });
    expect(String(seen.body.held[0].error)).toMatch(/TypeError/);
    // Its change is not counted: the summary says counts are pending while it is held.
    expect(((await (await stack.request('summary?only=countsPending')).json()) as Json).countsPending).toBe(true);

    // Requeued (no fix for this one): back in the outbox, then held again by the next run.
    const requeue = await admin('jobs/requeue-held/run');
    expect(requeue).toMatchObject({ status: 200, body: { job: 'requeue-held', result: { requeued: 1, more: false } } });
    expect(await heldRows()).toEqual([]);
    expect((await outbox.list(100)).map((e) => e.commitId)).toEqual([bad.commitId]);
    expect(await stack.projected()).toMatchObject({ projected: 0, held: 1 });
    expect(await outbox.list(100)).toEqual([]);
    expect((await heldRows()).map((r) => r.CommitId)).toEqual([bad.commitId]);

    // The server's later changes are not held up behind it: its next one is projected, and its
    // index row ends where that one says (the held move never happened: read and compared).
    await postOnly(snapshot({ host: 'BAD01', testState: 'Pass', collectedAt: minutesAgo(2) }));
    expect(await stack.projected()).toMatchObject({ projected: 1, held: 0 });
    for (const status of ['Pass', 'Warning']) {
      const rows = (await getAll(stack, `results?rule=test-alpha&status=${status}`)).items.filter((r: Json) => r.server === serverOf('BAD01'));
      expect(rows, status).toHaveLength(status === 'Pass' ? 1 : 0);
    }
    await countsAgree(stack);
    // Out of the way of the next tests.
    await tables.outbox.deleteEntity('~held', String((await heldRows())[0]!.rowKey));
    expect(((await (await stack.request('summary?only=countsPending')).json()) as Json).countsPending).toBe(false);
  });

  it('requeued after the fix, it is projected once, after its server\'s later change, and the index and counts end at the newest', async () => {
    // FIX01's later change is projected before the requeue; FIX02's in the same batch as its requeued entry.
    const hosts = ['FIX01', 'FIX02'];
    for (const host of hosts) expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(30) }))).status).toBe(201);
    // A fault (standing in for a bug) refuses every index write naming "fix0"; OTHER01 is in the same batch.
    fault.server = 'fix0';
    fault.status = 400;
    const warnings = new Map(hosts.map((host) => [host, snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(20) })]));
    for (const doc of warnings.values()) await postOnly(doc);
    await postOnly(snapshot({ host: 'OTHER01', testState: 'Error', collectedAt: minutesAgo(20) }));
    expect(await stack.projected()).toMatchObject({ projected: 1, held: 2 });
    expect(records('FleetPosture.NewFinding', serverOf('OTHER01'))).toHaveLength(1);
    for (const host of hosts) expect(records('FleetPosture.ProjectionHeld', serverOf(host))).toHaveLength(1);

    // The fix is deployed; meanwhile each server changed again (Warning → Error).
    fault.server = undefined;
    const errors = new Map(hosts.map((host) => [host, snapshot({ host, testState: 'Error', collectedAt: minutesAgo(10) })]));
    await postOnly(errors.get('FIX01')!);
    expect(await stack.projected()).toMatchObject({ projected: 1, held: 0 });
    // FIX01's content changes once more (same status): its body goes to the raw slot the held change was due in.
    const newestRaw = snapshot({ host: 'FIX01', testState: 'Error', collectedAt: minutesAgo(8), tail: 'changed\n' });
    await postOnly(newestRaw);
    expect(await stack.projected()).toMatchObject({ projected: 1, held: 0 });
    await postOnly(errors.get('FIX02')!);
    expect((await admin('jobs/requeue-held/run')).body).toMatchObject({ result: { requeued: 2, more: false } });
    expect(await stack.projected()).toMatchObject({ projected: 3, held: 0 });
    expect(await outbox.list(100)).toEqual([]);
    expect(await heldRows()).toEqual([]);

    // Every change once: its event, its alert record; the index where the newest change put it.
    for (const host of hosts) {
      const server = serverOf(host);
      const events = (await getAll(stack, `events?server=${server}&rule=test-alpha`)).items;
      expect(events.map((e: Json) => e.toStatus), host).toEqual(['Error', 'Warning', 'Pass']);
      // The held Warning was replaced by the Error before it was requeued: only the Error's record pages.
      const findings = records('FleetPosture.NewFinding', server);
      expect(findings.map((r) => r.fields.snapshotId), host).toEqual([errors.get(host)!.snapshotId]);
      for (const status of ['Pass', 'Warning', 'Error']) {
        const rows = (await getAll(stack, `results?rule=test-alpha&status=${status}`)).items.filter((r: Json) => r.server === server);
        expect(rows, `${host} ${status}`).toHaveLength(status === 'Error' ? 1 : 0);
      }
    }
    // The requeued change did not put its older body over the newer one.
    expect((await new RawSnapshotStore(stack.app.projectorStore).getLatestRaw(serverOf('FIX01')))?.snapshotId).toBe(newestRaw.snapshotId);
    await countsAgree(stack);
  });
});

describe('a requeued change\'s alert record', () => {
  it('goes out while its finding is still current, and not once a later change resolved it', async () => {
    for (const host of ['ALRT01', 'ALRT02']) expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(30) }))).status).toBe(201);
    fault.server = 'alrt0';
    fault.status = 400;
    const warnings = new Map(['ALRT01', 'ALRT02'].map((host) => [host, snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(20) })]));
    for (const doc of warnings.values()) await postOnly(doc);
    await postOnly(snapshot({ host: 'ALRTOK', testState: 'Warning', collectedAt: minutesAgo(20) }));
    try {
      expect(await stack.projected()).toMatchObject({ projected: 1, held: 2 });
    } finally {
      fault.server = undefined;
    }
    // While they are held, ALRT01's finding is resolved and ALRT02 reports the same Warning again.
    expect((await post(stack, snapshot({ host: 'ALRT01', testState: 'Pass', collectedAt: minutesAgo(10) }))).status).toBe(201);
    expect((await post(stack, snapshot({ host: 'ALRT02', testState: 'Warning', collectedAt: minutesAgo(10), tail: 'again\n' }))).status).toBe(201);
    expect((await admin('jobs/requeue-held/run')).body).toMatchObject({ result: { requeued: 2 } });
    expect(await stack.projected()).toMatchObject({ projected: 2, held: 0 });
    expect(records('FleetPosture.NewFinding', serverOf('ALRT01'))).toEqual([]);
    expect(records('FleetPosture.NewFinding', serverOf('ALRT02')).map((r) => r.fields.snapshotId)).toEqual([warnings.get('ALRT02')!.snapshotId]);
    await countsAgree(stack);
  });
});

describe('a requeue racing the projector', () => {
  const heldEntry = async (host: string) => {
    await postOnly(snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) }));
    const bad = (await outbox.list(100)).find((e) => e.server === serverOf(host))!;
    await breakEntry(bad);
    expect(await stack.projected()).toMatchObject({ held: 1 });
    return bad.commitId;
  };
  const entryRows = async () => (await outbox.list(100)).map((e) => e.commitId);

  it('does not lose the entry when the projector holds it again before the requeue removed its held row', async () => {
    const commitId = await heldEntry('RACE01');
    // The requeue's removal of the held row is slow (throttled, retried)...
    closeGate((text) => text.includes('~held'));
    const requeue = admin('jobs/requeue-held/run');
    await until(() => gate.arrived, 'the requeue to remove the held row');
    // ...and meanwhile a drain projects the requeued entry, which fails again: held again.
    expect(await stack.projected()).toMatchObject({ held: 1 });
    gate.release();
    expect((await requeue).status).toBe(200);
    expect((await heldRows()).map((r) => r.CommitId)).toEqual([commitId]);
    expect(await entryRows()).toEqual([]);
    await clearHeld('RACE01');
  });

  it('does not lose the entry when a requeue writes it back before the projector removed it from the outbox', async () => {
    const commitId = await heldEntry('RACE02');
    expect((await admin('jobs/requeue-held/run')).status).toBe(200);
    // The drain holds it again, but its removal of the outbox entry is slow...
    closeGate((text) => text.includes('race02') && !text.includes('~held'));
    const drain = stack.projected();
    await until(() => gate.arrived, 'the projector to remove the entry it set aside');
    // ...and meanwhile an operator requeues it again (the held copy goes, the entry is written back).
    expect((await admin('jobs/requeue-held/run')).body).toMatchObject({ result: { requeued: 1 } });
    gate.release();
    expect(await drain).toMatchObject({ held: 1 });
    expect(await entryRows()).toEqual([commitId]);
    expect(await heldRows()).toEqual([]);
    expect(await stack.projected()).toMatchObject({ held: 1 });
    await clearHeld('RACE02');
  });
});

describe('an entry this version cannot read', () => {
  const freshProjector = (graceMs?: number) => new Projector({ store: stack.app.projectorStore, ...projectionStores(stack.app.projectorStore), outbox, waivers: async () => () => undefined, graceMs }, RECENT_COMMITS);

  it('is set aside too, not dropped, as proven: requeued once a release reads it, it is projected even after its server committed many times since', async () => {
    const host = 'NEWER01';
    const server = serverOf(host);
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(100) }))).status).toBe(201);
    const change = snapshot({ host, testState: 'Error', collectedAt: minutesAgo(90) });
    await postOnly(change);
    const [entry] = await outbox.list(10);
    const original = await tables.outbox.getEntity<Record<string, unknown>>(entry!.partitionKey, entry!.rowKey);
    // As a newer release would write it: this one cannot read it.
    await outbox.put({ server, commitId: entry!.commitId, writtenAt: entry!.writtenAt, payload: JSON.stringify({ v: 2, server }) });
    expect(await stack.projected()).toMatchObject({ projected: 0, dropped: 0, held: 1 });
    expect(records('FleetPosture.ProjectionHeld', server).map((r) => r.fields.commitId)).toEqual([entry!.commitId]);
    const held = await heldRows();
    expect(held.map((r) => [r.CommitId, r.Proven])).toEqual([[entry!.commitId, true]]);
    expect(String(held[0]!.HeldError)).toMatch(/cannot read/);

    // The server goes on (more commits than its rows remember); then the release that reads the entry is deployed.
    for (let i = 0; i < RECENT_COMMITS; i++) expect((await post(stack, snapshot({ host, testState: i % 2 ? 'Pass' : 'Warning', collectedAt: minutesAgo(80 - i) }))).status).toBe(201);
    const payload: Record<string, unknown> = { partitionKey: '~held', rowKey: held[0]!.rowKey, PayloadChunks: original.PayloadChunks };
    for (const k of Object.keys(original)) if (k.startsWith('PayloadGzip')) payload[k] = original[k];
    await tables.outbox.updateEntity(payload as never, 'Merge');
    expect((await admin('jobs/requeue-held/run')).body).toMatchObject({ result: { requeued: 1 } });
    // A projector that never saw the commit itself: the requeued entry carries its proof.
    expect(await freshProjector().drain({ log: () => undefined })).toMatchObject({ projected: 1, dropped: 0, waiting: 0 });
    expect(await outbox.list(10)).toEqual([]);
    const events = (await getAll(stack, `events?server=${server}&rule=test-alpha`)).items;
    expect(events.map((e: Json) => e.snapshotId)).toContain(change.snapshotId);
  });

  it('whose commit never happened is dropped, not set aside', async () => {
    const server = serverOf('NEWER01');
    await outbox.put({ server, commitId: 'never-committed', writtenAt: Date.now(), payload: JSON.stringify({ v: 2, server }) });
    await new Promise((r) => setTimeout(r, 300));
    expect(await freshProjector(200).drain({ log: () => undefined })).toMatchObject({ projected: 0, dropped: 1, held: 0 });
    expect(await heldRows()).toEqual([]);
    expect(await outbox.list(10)).toEqual([]);
  });
});

describe('an error that hits every entry', () => {
  const heldRecords = () => alertRecords(stack).filter((a) => a.name === 'FleetPosture.ProjectionHeld');
  const failedRecords = () => alertRecords(stack).filter((a) => a.name === 'FleetPosture.ProjectionFailed');

  it.each([
    ['access refused (403: a role scoped wrongly)', 403, 'SYSA'],
    ['a deploy bug (400 on every index write)', 400, 'SYSB'],
  ])('%s sets nothing aside: the run stops, every entry stays, and it is logged as a failed run', async (_, status, prefix) => {
    const hosts = [1, 2, 3, 4, 5].map((i) => `${prefix}0${i}`);
    for (const host of hosts) await postOnly(snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) }));
    const heldBefore = heldRecords().length;
    const failedBefore = failedRecords().length;
    fault.server = `${prefix.toLowerCase()}0`;
    fault.status = status;
    try {
      await expect(stack.projected()).rejects.toThrow();
    } finally {
      fault.server = undefined;
    }
    expect(await heldRows()).toEqual([]);
    expect(heldRecords()).toHaveLength(heldBefore);
    expect(failedRecords()).toHaveLength(failedBefore + 1);
    expect((await outbox.list(100)).map((e) => e.server).sort()).toEqual(hosts.map(serverOf).sort());
    // Once the cause is fixed, the next run projects them all.
    expect(await stack.projected()).toMatchObject({ projected: hosts.length, held: 0 });
    for (const host of hosts) expect(records('FleetPosture.NewFinding', serverOf(host))).toHaveLength(1);
    await countsAgree(stack);
  });
});

describe('a storage outage', () => {
  it('holds nothing: the run stops, every entry stays, and each failed run says since when the projector has been failing', async () => {
    const host = 'OUTAGE01';
    const server = serverOf(host);
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(30) }))).status).toBe(201);
    fault.server = server;
    fault.status = 503;
    await postOnly(snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) }));
    const earlier = alertRecords(stack).filter((a) => a.name === 'FleetPosture.ProjectionFailed').length;
    await expect(stack.projected()).rejects.toThrow();
    await expect(stack.projected()).rejects.toThrow();
    expect(await heldRows()).toEqual([]);
    expect((await outbox.list(100)).map((e) => e.server)).toEqual([server]);
    const failed = alertRecords(stack)
      .filter((a) => a.name === 'FleetPosture.ProjectionFailed')
      .slice(earlier);
    expect(failed).toHaveLength(2);
    expect(failed[0]!.fields).toMatchObject({ errorKind: 'StorageUnavailableError', failingMinutes: 0 });
    // The second failure is counted from the first.
    expect(failed[1]!.fields.failingSince).toBe(failed[0]!.fields.failingSince);

    fault.server = undefined;
    expect(await stack.projected()).toMatchObject({ projected: 1, held: 0 });
    expect(records('FleetPosture.NewFinding', server)).toHaveLength(1);
    await countsAgree(stack);
  });
});

describe('changes that cannot be projected and sort first in the batch', () => {
  it('are set aside, and the servers listed after them are projected: a cluster at the head does not pass for a global cause', async () => {
    const hosts = Array.from({ length: 13 }, (_, i) => `HEAD${String(i).padStart(2, '0')}`);
    const hostOf = new Map(hosts.map((host) => [serverOf(host), host]));
    for (const host of hosts) await postOnly(snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) }));
    // The batch lists the outbox in this order; its first three cannot be projected, the ten after them can.
    const listed = await outbox.list(100);
    expect(listed.map((e) => e.server).sort()).toEqual([...hostOf.keys()].sort());
    const bad = listed.slice(0, 3);
    const good = listed.slice(3).map((e) => e.server);
    for (const entry of bad) await breakEntry(entry);

    // Two runs, each kept whether it stops or not: the good servers must not wait behind the bad ones.
    const runs: unknown[] = [];
    for (let i = 0; i < 2; i++) runs.push(await stack.projected().catch((error: unknown) => ({ stopped: String(error) })));
    for (const server of good) expect(records('FleetPosture.NewFinding', server), server).toHaveLength(1);
    expect(runs).toMatchObject([
      { projected: good.length, held: 3 },
      { projected: 0, held: 0 },
    ]);
    expect(await outbox.list(100)).toEqual([]);
    expect((await heldRows()).map((r) => r.CommitId).sort()).toEqual(bad.map((e) => e.commitId).sort());
    for (const entry of bad) expect(records('FleetPosture.ProjectionHeld', entry.server).map((r) => r.fields.commitId)).toEqual([entry.commitId]);
    await clearHeld(...bad.map((e) => hostOf.get(e.server)!));
  });
});

describe('changes that cannot be projected where the probes fall, in a full batch', () => {
  // More servers wait than a batch takes, so a run that stops reads the very same batch again.
  const hosts = Array.from({ length: 520 }, (_, i) => `WIDE${String(i).padStart(3, '0')}`);
  const hostOf = new Map(hosts.map((host) => [serverOf(host), host]));
  const stopped = (run: Promise<unknown>) => run.then((r) => ({ ran: r }), (error: unknown) => ({ stopped: String(error) }));
  beforeAll(async () => {
    for (let i = 0; i < hosts.length; i += 8) await Promise.all(hosts.slice(i, i + 8).map((host) => postOnly(snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) }))));
    expect((await outbox.list(1000)).length).toBe(hosts.length);
  }, 300_000);

  it('an error on every write still stops the run after a few probes, holding nothing', async () => {
    const failedBefore = alertRecords(stack).filter((a) => a.name === 'FleetPosture.ProjectionFailed').length;
    fault.server = 'wide';
    fault.status = 400;
    try {
      await expect(stack.projected()).rejects.toThrow();
    } finally {
      fault.server = undefined;
    }
    expect(await heldRows()).toEqual([]);
    expect(alertRecords(stack).filter((a) => a.name === 'FleetPosture.ProjectionFailed')).toHaveLength(failedBefore + 1);
    expect((await outbox.list(1000)).length).toBe(hosts.length);
    // The first, middle and last, then three more: not the whole batch one at a time.
    expect(stack.logs.filter((l) => /entries probed across the batch failed/.test(l.message)).at(-1)?.message).toMatch(/the 6 entries probed/);
  });

  it('are set aside and the rest projected in the first run, not stopping every run at the same place', async () => {
    // The batch is the first 500 listed, less the server listed last (its later entries may be cut off).
    const batch = (await outbox.list(500)).slice(0, -1);
    const bad = probePositions(batch.length).map((at) => batch[at]!);
    expect(bad).toHaveLength(3);
    for (const entry of bad) await breakEntry(entry);

    // What a run does is counted, not how long it takes: on a loaded machine the batch and its pass
    // one by one can outlast the minute a run has by default, and the run would end between them.
    const runs = [await stopped(stack.projected(600_000)), await stopped(stack.projected(600_000))];
    expect(runs).toMatchObject([{ ran: { projected: hosts.length - 3, held: 3 } }, { ran: { projected: 0, held: 0 } }]);
    expect(await outbox.list(1000)).toEqual([]);
    expect((await heldRows()).map((r) => r.CommitId).sort()).toEqual(bad.map((e) => e.commitId).sort());
    const badServers = new Set(bad.map((e) => e.server));
    for (const server of hostOf.keys()) expect(records('FleetPosture.NewFinding', server), server).toHaveLength(badServers.has(server) ? 0 : 1);
    await clearHeld(...bad.map((e) => hostOf.get(e.server)!));
  }, 300_000);
});
