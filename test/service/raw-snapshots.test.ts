// The Snapshots table keeps each server's newest two distinct contents in two fixed slots (rows of
// its bucket's partition), written alternately (no listing, no pruning); readers take the newest
// row, also next to rows of the older layouts in the server's own partition.
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketOf, encodeKey, invertedTime } from '../../src/store/keys';
import { rawToEntity } from '../../src/store/entities';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { post } from '../support/http';
import { stackTables, startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let table: TableClient;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES });
  table = stackTables(stack).snapshots;
});
afterAll(async () => stack?.stop());

const fqdn = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
const at = (m: number) => Date.now() - (600 - m) * 60_000;

/** The server's rows: its range of its bucket's partition, RowKey `<server>|slot…`. */
async function rowsOf(server: string): Promise<{ rowKey: string; snapshotId: string }[]> {
  const out: { rowKey: string; snapshotId: string }[] = [];
  const k = encodeKey(server);
  const filter = `PartitionKey eq 's|${bucketOf(server, 16)}' and RowKey ge '${k}|' and RowKey lt '${k}}'`;
  for await (const e of table.listEntities({ queryOptions: { filter, select: ['RowKey', 'SnapshotId'] } })) {
    out.push({ rowKey: String(e.rowKey).slice(k.length + 1), snapshotId: String(e.SnapshotId) });
  }
  return out.sort((a, b) => a.rowKey.localeCompare(b.rowKey));
}

describe('raw snapshots', () => {
  it('keeps the newest two distinct contents in slot0/slot1; an unchanged content writes no row', async () => {
    const host = 'RAW01';
    const ids: string[] = [];
    for (const [i, tail] of ['one', 'two', 'three'].entries()) {
      const doc = snapshot({ host, tail, collectedAt: at(i) });
      ids.push(String(doc.snapshotId).toLowerCase());
      expect((await post(stack, doc)).status).toBe(201);
    }
    // one → slot0, two → slot1, three → slot0 again.
    expect(await rowsOf(fqdn(host))).toEqual([
      { rowKey: 'slot0', snapshotId: ids[2] },
      { rowKey: 'slot1', snapshotId: ids[1] },
    ]);
    const latest = await stack.app.rawSnapshots.getLatestRaw(fqdn(host), true);
    expect(latest?.snapshotId).toBe(ids[2]);
    expect(JSON.parse(latest!.body!).files[0].tail).toBe('three');

    // Same content again: the Results rows move on, the raw rows stay as they were.
    const same = snapshot({ host, tail: 'three', collectedAt: at(3) });
    expect((await post(stack, same)).status).toBe(201);
    expect((await rowsOf(fqdn(host))).map((r) => r.snapshotId)).toEqual([ids[2], ids[1]]);
  });

  it('reads the newest row whatever its key, next to rows of the time-keyed layout', async () => {
    const server = fqdn('RAW02');
    const base = { server, receivedAt: Date.now(), contentHash: 'sha256:x' };
    const legacy = { ...base, snapshotId: 'legacy-newest', collectedAt: at(50), body: '{"v":"legacy"}' };
    // The oldest layout: the server's own partition, RowKey inverted time + snapshot id.
    const legacyEntity = { ...rawToEntity(legacy, 0), partitionKey: encodeKey(server), rowKey: `${invertedTime(legacy.collectedAt)}_${encodeKey(legacy.snapshotId)}` };
    await table.createEntity(legacyEntity);
    await stack.app.rawSnapshots.putRawSnapshots([{ record: { ...base, snapshotId: 'slot-older', collectedAt: at(40), body: '{"v":"older"}' }, slot: 1 }]);
    expect((await stack.app.rawSnapshots.getLatestRaw(server, true))?.body).toBe('{"v":"legacy"}');
    await stack.app.rawSnapshots.putRawSnapshots([{ record: { ...base, snapshotId: 'slot-newer', collectedAt: at(60), body: '{"v":"newer"}' }, slot: 0 }]);
    const latest = await stack.app.rawSnapshots.getLatestRaw(server);
    expect(latest?.snapshotId).toBe('slot-newer');
    expect(latest && 'body' in latest ? latest.body : undefined).toBeUndefined();
  });

  it('never serves a staging row: its attempt may yet be refused; once copied into its slot it is served', async () => {
    const server = fqdn('RAW03');
    const base = { server, receivedAt: Date.now(), contentHash: 'sha256:y' };
    await stack.app.rawSnapshots.putRawSnapshots([{ record: { ...base, snapshotId: 'in-slot', collectedAt: at(70), body: '{"v":"slot"}' }, slot: 0 }]);
    await stack.app.staged.putStagedRaw({ ...base, snapshotId: 'staged-newer', collectedAt: at(80), body: '{"v":"staged"}' }, 'commit-1', 1);
    expect((await rowsOf(server)).map((r) => r.rowKey)).toEqual(['slot0', 'stage|commit-1']);
    expect((await stack.app.rawSnapshots.getLatestRaw(server, true))?.body).toBe('{"v":"slot"}');

    expect(await stack.app.staged.copyStagedRaw(server, 'commit-1', 1)).toBe(true);
    const latest = await stack.app.rawSnapshots.getLatestRaw(server, true);
    expect(latest).toMatchObject({ snapshotId: 'staged-newer', body: '{"v":"staged"}', rawBytes: 14, rawStored: true });
    await stack.app.staged.deleteStagedRaw([{ server, commitId: 'commit-1' }]);
    expect((await rowsOf(server)).map((r) => r.rowKey)).toEqual(['slot0', 'slot1']);
    // Copied and removed already (a rerun): nothing left to copy, and removing it again is fine.
    expect(await stack.app.staged.copyStagedRaw(server, 'commit-1', 1)).toBe(false);
    await stack.app.staged.deleteStagedRaw([{ server, commitId: 'commit-1' }]);
    expect((await stack.app.rawSnapshots.getLatestRaw(server))?.snapshotId).toBe('staged-newer');
  });
});
