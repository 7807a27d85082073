// The Snapshots table keeps each server's newest two distinct contents in two fixed slots (rows of
// its bucket's partition), written alternately (no listing, no pruning); readers take the newest
// row, also next to rows of the older layouts in the server's own partition.
import type { TableClient } from '@azure/data-tables';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketOf, encodeKey, invertedTime } from '../../src/store/keys';
import { rawToEntity } from '../../src/store/entities';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { post, type Json } from '../support/http';
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
  it('the largest body the service takes, of text gzip cannot shrink: accepted and evaluated, its raw body recorded as not kept; one whose gzip fills twelve columns kept whole', async () => {
    // Locally, rows of more than twelve 60 KiB columns were refused by Azurite (it counts their
    // base64) and such a post failed with a 500, where Azure would have taken it.
    const host = 'RAW04';
    const doc: Json = snapshot({ host, tail: '', collectedAt: at(10) });
    doc.files[0].size = 1_000_000; // as many digits as the size it will say
    const room = stack.settings.maxSnapshotBytes - Buffer.byteLength(JSON.stringify(doc), 'utf8');
    doc.files[0].tail = randomBytes(room).toString('base64').slice(0, room);
    doc.files[0].size = room;
    const body = JSON.stringify(doc);
    expect(Buffer.byteLength(body, 'utf8')).toBe(stack.settings.maxSnapshotBytes);
    expect(Math.ceil(gzipSync(body).length / (60 * 1024))).toBeGreaterThan(12);
    const posted = await post(stack, doc);
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    const notKept = await stack.app.rawSnapshots.getLatestRaw(fqdn(host), true);
    expect([notKept?.snapshotId, notKept?.rawStored, notKept?.rawBytes, notKept?.body]).toEqual([String(doc.snapshotId).toLowerCase(), false, body.length, undefined]);

    // A tail whose body's gzip fills twelve columns to within a few hundred bytes (a margin, as the
    // service's gzip of the same text may end a byte apart from this one).
    const full = doc.files[0].tail as string;
    const kept: Json = snapshot({ host, tail: '', collectedAt: at(11) });
    const gzipWith = (n: number): number => {
      kept.files[0].tail = full.slice(0, n);
      kept.files[0].size = n;
      return gzipSync(JSON.stringify(kept)).length;
    };
    let [lo, hi] = [0, full.length];
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (gzipWith(mid) <= 12 * 60 * 1024 - 256) lo = mid;
      else hi = mid - 1;
    }
    expect(gzipWith(lo)).toBeGreaterThan(12 * 60 * 1024 - 1024);
    expect((await post(stack, kept)).status).toBe(201);
    const read = await stack.app.rawSnapshots.getLatestRaw(fqdn(host), true);
    expect([read?.snapshotId, read?.rawStored]).toEqual([String(kept.snapshotId).toLowerCase(), true]);
    expect(JSON.parse(read!.body!).files[0].tail).toBe(full.slice(0, lo));
  }, 120_000);
});
