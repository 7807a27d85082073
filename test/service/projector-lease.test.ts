// The projector's lease while a batch runs: renewed when the batch outlasts it, and a projector
// that lost it to another instance stops before logging alert records or clearing the outbox
// (that instance projects the entries; the rule index refuses this one's writes: see
// rule-index-race.test.ts).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { projectionStores } from '../../src/app/create-app';
import { RECENT_COMMITS } from '../../src/app/ingest';
import { Projector } from '../../src/app/projector';
import { OutboxStore, type StoragePolicy } from '../../src/store';
import type { TableClients } from '../../src/store/client';
import { oncePerRequest, ruleIndexGate } from '../support/faults';
import { getAll, type Json, minutesAgo, postUndrained } from '../support/http';
import { serverOf } from '../support/raw-rows';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { stackTables, startTestStack, type TestStack } from '../support/stack';
import { countsAgree } from '../support/tables';

const gate = ruleIndexGate('testIndexGate');
/** Requests on the lease row: counted (once: a retry after a dropped connection is not another), and held back while `throttled` (storage throttling the renewals too). */
const firstAttempt = oncePerRequest();
const leaseRequests: { count: number; throttled?: Promise<void> } = { count: 0 };
const leasePolicy: StoragePolicy = {
  name: 'testLeaseRequests',
  async sendRequest(request, next) {
    if (decodeURIComponent(request.url).includes('~lease')) {
      if (firstAttempt(request)) leaseRequests.count++;
      await leaseRequests.throttled;
    }
    return next(request);
  },
};

let stack: TestStack;
let tables: TableClients;
let outbox: OutboxStore;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [gate.policy, leasePolicy], projectorIntervalMs: 0 });
  tables = stackTables(stack);
  outbox = new OutboxStore(stack.app.projectorStore);
});
afterAll(async () => stack?.stop());

const postOnly = (doc: Record<string, unknown>) => postUndrained(stack, doc);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the projector\'s lease', () => {
  const projector = (leaseMs: number) => new Projector({ store: stack.app.projectorStore, ...projectionStores(stack.app.projectorStore), outbox, waivers: async () => () => undefined, leaseMs }, RECENT_COMMITS);
  const leaseRow = async () => tables.outbox.getEntity<Record<string, unknown>>('~lease', 'projector');
  const untilOf = (row: Record<string, unknown>) => Date.parse(String(row.Until instanceof Date ? row.Until.toISOString() : row.Until));

  it('is renewed while a batch outlasts it', async () => {
    await postOnly(snapshot({ host: 'LONG01', testState: 'Warning', collectedAt: minutesAgo(5) }));
    let renewed = false;
    // The index write waits (throttled storage) until the lease was extended, for up to 10 s.
    gate.beforeWrite = async () => {
      const first = untilOf(await leaseRow());
      for (let i = 0; i < 100 && !renewed; i++) {
        await sleep(100);
        renewed = untilOf(await leaseRow()) > first;
      }
    };
    const run = await projector(600).drain({ log: () => undefined });
    expect(renewed).toBe(true);
    expect(run).toMatchObject({ status: 'done', projected: 1 });
  });

  it('lost in the middle of a batch: the projector stops before logging alert records or clearing the outbox, and the new holder projects', async () => {
    const host = 'LOST01';
    await postOnly(snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) }));
    // Its index write is held up, and so are its renewals (storage throttling): the lease lapses,
    // and another instance takes it.
    gate.beforeWrite = async () => {
      let release = () => undefined as void;
      leaseRequests.throttled = new Promise<void>((r) => (release = r));
      await sleep(900);
      const row = await leaseRow();
      await tables.outbox.updateEntity({ partitionKey: '~lease', rowKey: 'projector', Owner: 'other-instance', Until: new Date(Date.now() + 60_000), Generation: { value: Number(row.Generation ?? 0) + 1, type: 'Double' } }, 'Replace');
      leaseRequests.throttled = undefined;
      release();
    };
    const lines: string[] = [];
    const run = await projector(600).drain({ log: (m) => lines.push(m) });
    expect(run).toMatchObject({ status: 'busy', projected: 0 });
    expect(lines.filter((l) => l.startsWith('FleetPosture.NewFinding '))).toEqual([]);
    expect((await outbox.list(100)).map((e) => e.server)).toEqual([serverOf(host)]);

    // The other instance is done and gives it back: the entry is projected, its record logged once.
    await tables.outbox.updateEntity({ partitionKey: '~lease', rowKey: 'projector', Owner: '', Until: new Date(0) }, 'Merge');
    expect(await stack.projected()).toMatchObject({ projected: 1 });
    const warnings = (await getAll(stack, 'results?rule=test-alpha&status=Warning')).items.map((r: Json) => r.server);
    expect(warnings).toContain(serverOf(host));
    await countsAgree(stack);
  });

  it('is not renewed between the steps of a batch while most of it is still ahead: a drain reads and writes the lease row only to take and release it', async () => {
    gate.beforeWrite = undefined;
    for (const host of ['RT01', 'RT02', 'RT03']) await postOnly(snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) }));
    leaseRequests.count = 0;
    expect(await projector(600_000).drain({ log: () => undefined })).toMatchObject({ status: 'done', projected: 3 });
    expect(leaseRequests.count).toBe(4);
  });

  it('refused by a fence above its generation while it still holds the lease: the run fails (logged), and the next one takes a generation above the fence and projects', async () => {
    gate.beforeWrite = undefined;
    const host = 'SKEW01';
    // An instance whose clock is two minutes ahead projects a change: its generation (its time) fences the counts rows.
    await postOnly(snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(30) }));
    const realNow = Date.now.bind(Date);
    const ahead = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 120_000);
    try {
      expect(await projector(60_000).drain({ log: () => undefined })).toMatchObject({ projected: 1 });
    } finally {
      ahead.mockRestore();
    }
    // An instance of an older release takes and gives back the lease: its Replace drops the generation.
    await tables.outbox.updateEntity({ partitionKey: '~lease', rowKey: 'projector', Owner: '', Until: new Date(0) }, 'Replace');

    // A correct-clock instance takes the lease at a generation below the fence: refused, and it says so.
    await postOnly(snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(10) }));
    const p = projector(60_000);
    const lines: string[] = [];
    await expect(p.drain({ log: (m) => lines.push(m) })).rejects.toThrow(/refused this projector's lease generation/);
    expect(lines.filter((l) => l.startsWith('FleetPosture.ProjectionFailed '))).toHaveLength(1);
    // It gave the lease back, and its next run (within the two minutes the clocks differ) projects the change.
    expect(await p.drain({ log: (m) => lines.push(m) })).toMatchObject({ status: 'done', projected: 1 });
    expect(await outbox.list(100)).toEqual([]);
    const warnings = (await getAll(stack, 'results?rule=test-alpha&status=Warning')).items.map((r: Json) => r.server);
    expect(warnings).toContain(serverOf(host));
    await countsAgree(stack);
  });
});
