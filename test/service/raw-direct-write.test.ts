// A raw body too large to travel in its outbox entry is written by the request itself. Older
// entries of the same server still waiting for the projector carry older bodies: projecting them
// later must not replace the newer body the request wrote (nothing accepted is lost).
import { randomBytes } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConnectionString, tableNames } from '../../src/store';
import { bucketOf, encodeKey } from '../../src/store/keys';
import type { Rule, Status } from '../../src/rules/types';
import { get, post } from '../support/http';
import { snapshot } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

/**
 * Rules whose status follows the PostureTest service and whose messages quote their own part of
 * the file tail. A status change carries each message twice in its outbox entry (the event and the
 * rule index row), besides the raw body: with a tail of ~800 KiB of random text the entry is too
 * large for one entity while the body alone still fits a Snapshots row. (Gzip finds no repeats
 * further apart than 32 KiB, so the copies cost as much as the text.)
 */
const PART = 30_000;
const tailRules: Rule[] = Array.from({ length: 5 }, (_, n) => ({
  id: `test-tail-${n}`,
  version: '1.0.0',
  title: { en: `Test tail ${n}`, ja: `テスト テール ${n}` },
  rationale: { en: 'Quotes the file tail.', ja: '引用。' },
  severity: 'Warning',
  references: [],
  reasonCodes: { FromState: 'Pass' },
  needs: { registry: [], services: ['PostureTest'], files: [{ path: 'C:\\logs\\test.txt', tailBytes: 1024 * 1024 }] },
  evaluate(s) {
    const state = s.services.get('posturetest')?.state ?? 'Pass';
    const status = (['Pass', 'Warning', 'Error'].includes(state) ? state : 'Unknown') as Status;
    const tail = s.files[0]?.tail ?? '';
    const part = (i: number) => tail.slice((2 * n + i) * PART, (2 * n + i + 1) * PART);
    return { status, reasonCode: `State${status}`, message: { en: `${status} ${part(0)}`, ja: `${status} ${part(1)}` }, remediation: [], evidence: { state } };
  },
}));

let stack: TestStack;
beforeAll(async () => {
  // The projector runs only when the test drains it: older entries wait while newer commits land.
  stack = await startTestStack({ rules: tailRules, projectorIntervalMs: 0 });
});
afterAll(async () => stack?.stop());

const at = (m: number) => Date.now() - (600 - m) * 60_000;

/** Posts without draining the projector: the entries wait until the test drains them. */
const postOnly = async (doc: Record<string, unknown>): Promise<number> => (await post(stack, doc, { drain: false })).status;

const tailOf = (body: string | undefined) => (JSON.parse(body ?? '{}') as { files?: { tail?: string }[] }).files?.[0]?.tail;
/** 800 KiB of random text (about 610 KiB gzip): a body that fits a Snapshots row, not an outbox entry. */
const bigTail = () => randomBytes(600 * 1024).toString('base64');

const tables = () => {
  const cs = resolveConnectionString(stack.settings.storageConnectionString ?? '');
  const names = tableNames(stack.settings.tablePrefix);
  const open = (name: string) => TableClient.fromConnectionString(cs, name, { allowInsecureConnection: true });
  return { snapshots: open(names.snapshots), results: open(names.results), outbox: open(names.outbox) };
};

/** The server's raw rows, whatever their slot: RowKey after `<server>|`, and SnapshotId. */
async function rawRows(server: string): Promise<{ slot: string; snapshotId: string }[]> {
  const k = encodeKey(server);
  const filter = `PartitionKey eq 's|${bucketOf(server, 16)}' and RowKey ge '${k}|' and RowKey lt '${k}}'`;
  const out: { slot: string; snapshotId: string }[] = [];
  for await (const e of tables().snapshots.listEntities({ queryOptions: { filter, select: ['RowKey', 'SnapshotId'] } })) {
    out.push({ slot: String(e.rowKey).slice(k.length + 1), snapshotId: String(e.SnapshotId) });
  }
  return out;
}

/** The snapshot ids of every raw row stored for the server, whatever its slot. */
const storedIds = async (server: string): Promise<string[]> => (await rawRows(server)).map((r) => r.snapshotId);

describe('a raw body the request writes itself', () => {
  it('survives the projection of older entries that are still waiting; the newest snapshot is served', async () => {
    const host = 'RAWD01';
    const server = `${host.toLowerCase()}.corp.contoso.com`;
    const big = bigTail();
    const docs = [
      snapshot({ host, tail: 'one', testState: 'Pass', collectedAt: at(1) }),
      snapshot({ host, tail: 'two', testState: 'Warning', collectedAt: at(2) }),
      snapshot({ host, tail: big, testState: 'Error', collectedAt: at(3) }),
    ];
    const ids = docs.map((d) => String(d.snapshotId).toLowerCase());
    for (const doc of docs) expect(await postOnly(doc)).toBe(201);

    // The third body went past the outbox: it is stored before any projection ran.
    const before = await stack.app.store.getLatestRaw(server, true);
    expect(before?.snapshotId).toBe(ids[2]);
    expect(tailOf(before?.body)).toBe(big);

    const run = await stack.projected();
    expect(run.projected).toBe(3);
    const after = await stack.app.store.getLatestRaw(server, true);
    expect(after?.snapshotId).toBe(ids[2]);
    expect(tailOf(after?.body)).toBe(big);
    const res = await get(stack, `servers/${server}`);
    expect(res.status).toBe(200);
    expect(res.body.rawSnapshot.snapshotId).toBe(ids[2]);
    // The newest two distinct contents are both kept.
    expect(await storedIds(server)).toEqual(expect.arrayContaining([ids[2], ids[1]]));
  });

  it('keeps the newest two distinct contents when bodies go both ways, the projector held back', async () => {
    const host = 'RAWD02';
    const server = `${host.toLowerCase()}.corp.contoso.com`;
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
      ids.push(String(doc.snapshotId).toLowerCase());
      expect(await postOnly(doc)).toBe(201);
    }
    expect((await stack.projected()).projected).toBe(5);
    const latest = await stack.app.store.getLatestRaw(server, true);
    expect(latest?.snapshotId).toBe(ids[4]);
    expect(tailOf(latest?.body)).toBe(steps[4]!.tail);
    expect(await storedIds(server)).toEqual(expect.arrayContaining([ids[4], ids[3]]));

    // A small one after them goes through the projector again; the big one before it stays.
    const last = snapshot({ host, tail: 'f', testState: 'Pass', collectedAt: at(20) });
    expect(await postOnly(last)).toBe(201);
    await stack.projected();
    expect((await stack.app.store.getLatestRaw(server))?.snapshotId).toBe(String(last.snapshotId).toLowerCase());
    expect(await storedIds(server)).toEqual(expect.arrayContaining([String(last.snapshotId).toLowerCase(), ids[4]]));
  });

  it('a repeat that hands over rows an earlier version left owing the raw snapshot writes the body to a slot of its own, and the rows say so', async () => {
    const host = 'RAWD03';
    const server = `${host.toLowerCase()}.corp.contoso.com`;
    const { results, outbox, snapshots } = tables();
    expect(await postOnly(snapshot({ host, tail: 'a', testState: 'Pass', collectedAt: at(30) }))).toBe(201);
    await stack.projected();
    const big = snapshot({ host, tail: bigTail(), testState: 'Warning', collectedAt: at(31) });
    const bigId = String(big.snapshotId).toLowerCase();
    expect(await postOnly(big)).toBe(201);
    // What an earlier version left: its rows flag what it still owed (it knew only slots 0 and 1),
    // no outbox entry, and the body never written.
    for await (const e of outbox.listEntities({ queryOptions: { filter: `Server eq '${server}'` } })) await outbox.deleteEntity(String(e.partitionKey), String(e.rowKey));
    for await (const row of results.listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey(server)}'` } })) {
      const flags = { EventPending: true, IndexPending: true, SyncPending: true, AcceptPending: true, RawSlot: 1 };
      await results.updateEntity({ partitionKey: String(row.partitionKey), rowKey: String(row.rowKey), ...flags }, 'Merge');
    }
    for (const r of await rawRows(server)) if (r.snapshotId === bigId) await snapshots.deleteEntity(`s|${bucketOf(server, 16)}`, `${encodeKey(server)}|${r.slot}`);
    expect(await storedIds(server)).not.toContain(bigId);

    // The collector's retry hands the rows over; the body is too large for the entry.
    expect(await postOnly(big)).toBe(201);
    expect((await stack.app.store.getLatestRaw(server))?.snapshotId).toBe(bigId);
    const slots = new Set<unknown>();
    for await (const row of results.listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey(server)}'`, select: ['RawSlot'] } })) slots.add(row.RawSlot);
    expect([...slots]).toEqual([2]);
    await stack.projected();

    // The next large body goes to the other slot of that pair: the handed-over one stays.
    const next = snapshot({ host, tail: bigTail(), testState: 'Error', collectedAt: at(32) });
    expect(await postOnly(next)).toBe(201);
    await stack.projected();
    expect((await stack.app.store.getLatestRaw(server))?.snapshotId).toBe(String(next.snapshotId).toLowerCase());
    expect(await storedIds(server)).toEqual(expect.arrayContaining([String(next.snapshotId).toLowerCase(), bigId]));
  });
});
