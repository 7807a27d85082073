// Under a one-rule set ingest reads the server's row by key instead of querying its partition, and
// that row says whether the partition holds anything else (PartitionRules, written by every commit).
// The read must still return every row the partition holds: rows of rules that left the set, rows
// an older version wrote without the column, no row yet.
import type { TableClient } from '@azure/data-tables';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultRecord, StoragePolicy, StoredResult } from '../../src/store';
import { resultKeys } from '../../src/store/entities';
import { oncePerRequest } from '../support/faults';
import { post } from '../support/http';
import { propertyRuns } from '../support/property-runs';
import { alphaRule, snapshot } from '../support/snapshots';
import { stackTables, startTestStack, type TestStack } from '../support/stack';

/** The Results reads of the requests, as "point" (by key) or "query" (the partition). */
const reads: string[] = [];
const firstAttempt = oncePerRequest();
const recorder: StoragePolicy = {
  name: 'testRecordResultReads',
  sendRequest(request, next) {
    const path = decodeURIComponent(new URL(request.url).pathname);
    if (request.method === 'GET' && /\/Results\(/.test(path) && firstAttempt(request)) reads.push(/\/Results\(\)$/.test(path) ? 'query' : 'point');
    return next(request);
  },
};

let stack: TestStack;
let results: TableClient;
beforeAll(async () => {
  // An instance that remembers no row (POSTURE_REMEMBERED_ROWS_MB=0): every post reads (what an
  // instance that committed a server's last post skips is in remembered-rows.test.ts).
  stack = await startTestStack({ rules: [alphaRule], storagePolicies: [recorder], settings: { POSTURE_REMEMBERED_ROWS_MB: '0' } });
  results = stackTables(stack).results;
});
afterAll(async () => stack?.stop());

const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
let minute = 0;
const next = (host: string, testState = 'Pass') => snapshot({ host, testState, collectedAt: Date.now() - 600 * 60_000 + ++minute * 60_000 });
const ruleIdsOf = (rows: readonly StoredResult[]) => rows.map((r) => r.ruleId).sort();

/** Rewrites a row as a version without the column wrote it. */
async function dropColumn(host: string, ruleId: string): Promise<void> {
  const k = resultKeys(server(host), ruleId);
  const { etag, timestamp, PartitionRules, ...rest } = await results.getEntity<Record<string, unknown>>(k.partitionKey, k.rowKey);
  void timestamp;
  void PartitionRules;
  await results.updateEntity(rest as { partitionKey: string; rowKey: string }, 'Replace', { etag });
}

describe('reading a one-rule server', () => {
  it('reads its row by key: no partition query, and a steady post costs 2 round trips', async () => {
    const host = 'ONEREAD1';
    expect((await post(stack, next(host))).status).toBe(201);
    reads.length = 0;
    stack.roundTrips.reset();
    expect((await post(stack, next(host))).status).toBe(201);
    expect(reads).toEqual(['point']);
    expect(stack.roundTrips.count).toBe(2);
    const [row] = await stack.app.store.readServer(server(host));
    expect(row!.partitionRules).toEqual([alphaRule.id]);
  });

  it('with no row yet (a first post), queries the partition too', async () => {
    reads.length = 0;
    expect((await post(stack, next('ONEREAD2'))).status).toBe(201);
    expect(reads).toEqual(['point', 'query']);
  });

  it('a row an older version wrote (no PartitionRules) is read with its partition once; its commit names the partition, so the next post reads one row', async () => {
    const host = 'ONEREAD3';
    expect((await post(stack, next(host))).status).toBe(201);
    expect((await stack.app.store.readServer(server(host)))[0]!.partitionRules).toEqual([alphaRule.id]);
    await dropColumn(host, alphaRule.id);
    expect((await stack.app.store.readServer(server(host)))[0]!.partitionRules).toBeUndefined();
    reads.length = 0;
    expect((await post(stack, next(host, 'Warning'))).status).toBe(201);
    expect(reads).toEqual(['point', 'query']);
    reads.length = 0;
    expect((await post(stack, next(host, 'Warning'))).status).toBe(201);
    expect(reads).toEqual(['point']);
  });
});

describe('PostureStore.readServerRows', () => {
  const A = 'prop-a';
  const B = 'prop-b';
  // commit: as ingest commits under a rule set (its rows written, the others removed); touch: one
  // row written alone, the others neither written nor removed; legacy: one row rewritten without
  // the column, as an older version writes it.
  type Step = { kind: 'commit'; rules: string[] } | { kind: 'touch' | 'legacy'; rule: string };
  const stepArb: fc.Arbitrary<Step> = fc.oneof(
    fc.constantFrom<string[]>([A], [B], [A, B]).map((rules) => ({ kind: 'commit' as const, rules })),
    fc.record({ kind: fc.constantFrom('touch' as const, 'legacy' as const), rule: fc.constantFrom(A, B) }),
  );
  let template: ResultRecord;
  beforeAll(async () => {
    expect((await post(stack, next('ONEREAD-TEMPLATE'))).status).toBe(201);
    template = (await stack.app.store.readServer(server('ONEREAD-TEMPLATE')))[0]!;
  });

  let runs = 0;
  it('returns every row the partition holds, whatever rule set asks, after any commits under changing rule sets and rows of older versions', async () => {
    const store = stack.app.store;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 6 }), async (steps) => {
        const host = `ONEREAD-PROP${runs++}`;
        for (const step of steps) {
          const rows = await store.readServer(server(host));
          if (step.kind === 'legacy') {
            if (rows.some((r) => r.ruleId === step.rule && r.partitionRules)) await dropColumn(host, step.rule);
            continue;
          }
          const written = step.kind === 'commit' ? step.rules : [step.rule];
          const byRule = new Map(rows.map((r) => [r.ruleId, r]));
          const put = written.map((ruleId) => ({ record: { ...template, server: server(host), ruleId }, etag: byRule.get(ruleId)?.etag }));
          const remove = step.kind === 'commit' ? rows.filter((r) => !step.rules.includes(r.ruleId)).map((r) => r.ruleId) : [];
          if (rows.some((r) => !written.includes(r.ruleId) && !remove.includes(r.ruleId))) {
            // A commit that would leave a row unwritten (so naming an older set) is refused, and changes nothing.
            await expect(store.commitServer(server(host), { put, remove, basedOn: rows })).rejects.toThrow(/must write or remove every row it read/);
            expect(await store.readServer(server(host))).toEqual(rows);
            continue;
          }
          await store.commitServer(server(host), { put, remove, basedOn: rows });
          // Each row the commit wrote names exactly the rows the partition now holds.
          const after = await store.readServer(server(host));
          for (const r of after.filter((x) => written.includes(x.ruleId))) expect(r.partitionRules).toEqual(ruleIdsOf(after));
        }
        const all = ruleIdsOf(await store.readServer(server(host)));
        for (const asked of [[A], [B], [A, B]]) expect(ruleIdsOf(await store.readServerRows(server(host), asked))).toEqual(all);
      }),
      { numRuns: propertyRuns(30), seed: 20261202 },
    );
  });
});
