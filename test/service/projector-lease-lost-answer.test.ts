// The projector's lease when a write of its row landed but its answer was lost (a dropped
// connection, which a loaded machine or a busy storage account causes now and then): the SDK sends
// the write again, which meets the ETag the first one left. That is the projector's own write, so
// the lease is still held; before, the renewal read as lost and the projector stopped its batch.
// Another instance's write in between is still a lease lost. On Azurite over real HTTP, with a
// storage policy that lets a lease write land and loses its answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxStore, type StoragePolicy } from '../../src/store';
import type { TableClients } from '../../src/store/client';
import { lostAnswers } from '../support/faults';
import { stackTables, startTestStack, type TestStack } from '../support/stack';
import { TEST_RULES } from '../support/snapshots';

const lose = lostAnswers('testLoseLeaseAnswer');
/** Run once just before the next attempt at a lease write is sent: another instance writing first. */
let beforeLeaseWrite: (() => Promise<void>) | undefined;
const interleave: StoragePolicy = {
  name: 'testInterleaveLeaseWrite',
  async sendRequest(request, next) {
    const run = beforeLeaseWrite;
    if (run && leaseWrite({ url: request.url, method: request.method, body: typeof request.body === 'string' ? request.body : '' })) {
      beforeLeaseWrite = undefined;
      await run();
    }
    return next(request);
  },
};
/** A write of the lease row (create or replace): its key is in the URL of a replace, in the body of a create. */
const leaseWrite = (r: { url: string; method: string; body: string }) => ['PUT', 'POST'].includes(r.method) && (decodeURIComponent(r.url).includes('~lease') || r.body.includes('~lease'));

let stack: TestStack;
let tables: TableClients;
let outbox: OutboxStore;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [interleave, lose.policy], projectorIntervalMs: 0 });
  tables = stackTables(stack);
  outbox = new OutboxStore(stack.app.projectorStore);
});
afterAll(async () => stack?.stop());

const leaseRow = () => tables.outbox.getEntity<Record<string, unknown>>('~lease', 'projector');
const untilOf = (row: Record<string, unknown>) => new Date(row.Until as string | Date).getTime();
/** Another instance takes the lease row over, whatever it holds. */
const otherTakes = async (generation: number, until: number, owner = 'instance-b') => {
  await tables.outbox.updateEntity({ partitionKey: '~lease', rowKey: 'projector', Owner: owner, Until: new Date(until), Generation: { value: generation, type: 'Double' } }, 'Replace');
};

describe('a lease write whose answer was lost', () => {
  it('taking the lease for the first time: the create is this one, and the lease is held at its generation', async () => {
    const now = Date.now();
    lose.when = leaseWrite;
    const generation = await outbox.holdLease('instance-a', now, now + 60_000);
    expect(lose.when).toBeUndefined();
    expect(generation).toBeGreaterThanOrEqual(Math.floor(now));
    const row = await leaseRow();
    expect([row.Owner, row.Generation, untilOf(row)]).toStrictEqual(['instance-a', generation, now + 60_000]);
  });

  it('renewing it: the replace is this one, and the lease runs until the renewed time', async () => {
    const now = Date.now();
    const generation = (await leaseRow()).Generation as number;
    lose.when = leaseWrite;
    expect(await outbox.renewLease('instance-a', generation, now + 120_000)).toBe(true);
    expect(lose.when).toBeUndefined();
    expect(untilOf(await leaseRow())).toBe(now + 120_000);
  });

  it('another instance taking it before the write is sent again: the lease is lost, and the row stays the other one', async () => {
    const now = Date.now();
    const generation = (await leaseRow()).Generation as number;
    lose.when = (r) => {
      if (!leaseWrite(r)) return false;
      beforeLeaseWrite = () => otherTakes(generation + 1, now + 240_000);
      return true;
    };
    expect(await outbox.renewLease('instance-a', generation, now + 180_000)).toBe(false);
    expect(beforeLeaseWrite).toBeUndefined();
    const row = await leaseRow();
    expect([row.Owner, row.Generation, untilOf(row)]).toStrictEqual(['instance-b', generation + 1, now + 240_000]);
  });

  it('another instance writing between the read and the write, no answer lost: the lease is lost', async () => {
    const now = Date.now();
    const generation = (await leaseRow()).Generation as number;
    expect(await outbox.renewLease('instance-b', generation, now + 60_000)).toBe(true);
    beforeLeaseWrite = () => otherTakes(generation + 1, now + 90_000, 'instance-c');
    expect(await outbox.renewLease('instance-b', generation, now + 120_000)).toBe(false);
    expect((await leaseRow()).Owner).toBe('instance-c');
  });
});
