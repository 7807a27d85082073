// The bench's baseline makes the storage calls the service makes for the same rows, and no more:
// a one-row server read by key and written by one conditional request, more rows by a partition
// query and one transaction. Two round trips either way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Baseline } from '../../bench/lib/baseline';
import { buildFleet, serverId } from '../../bench/lib/fleet';
import { evaluateTemplate, resultRecords } from '../../bench/lib/records';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { entityToResult } from '../../src/store/entities';
import { createTestTables } from '../support/stack';

let azurite: AzuriteHandle;
let baseline: Baseline;
const fleet = buildFleet();
const typical = evaluateTemplate(fleet.typical.doc, fleet.rules);
const changed = evaluateTemplate(fleet.changed.doc, fleet.rules);

beforeAll(async () => {
  azurite = await startAzurite({});
  baseline = new Baseline(azurite.connectionString, 'BaseTest', createTestTables);
  await baseline.init();
});
afterAll(async () => azurite?.stop());

const rowsOf = async (server: string) => {
  const { results } = createTestTables({ connectionString: azurite.connectionString, tablePrefix: 'BaseTest' });
  const out = [];
  for await (const e of results.listEntities()) if (entityToResult(e).server === server) out.push(entityToResult(e));
  return out;
};

describe('the bench baseline', () => {
  it('a one-row server: a point read and a create, then a point read and a replace under its ETag', async () => {
    const server = serverId(1);
    const one = (ev: typeof typical, snapshotId: string, at: number) => resultRecords(ev, server, snapshotId, at, at).slice(0, 1);
    baseline.counter.reset();
    await baseline.ingest(server, one(typical, 'snap-1', 1_000));
    expect(Object.fromEntries(baseline.counter.byTable)).toEqual({ BaseTestResults: 2 });
    baseline.counter.reset();
    await baseline.ingest(server, one(changed, 'snap-2', 3_000));
    expect(Object.fromEntries(baseline.counter.byTable)).toEqual({ BaseTestResults: 2 });
    const rows = await rowsOf(server);
    expect(rows.map((r) => [r.snapshotId, r.status])).toEqual([['snap-2', changed.results[0]!.status]]);
  });

  it('more rows: a partition query and one transaction', async () => {
    const server = serverId(2);
    const [row] = resultRecords(typical, server, 'snap-1', 1_000, 2_000);
    const two = [row!, { ...row!, ruleId: 'second-rule' }];
    await baseline.ingest(server, two);
    baseline.counter.reset();
    await baseline.ingest(server, two.map((r) => ({ ...r, snapshotId: 'snap-2' })));
    expect(Object.fromEntries(baseline.counter.byTable)).toEqual({ BaseTestResults: 1, $batch: 1 });
    expect((await rowsOf(server)).map((r) => r.snapshotId)).toEqual(['snap-2', 'snap-2']);
  });
});
