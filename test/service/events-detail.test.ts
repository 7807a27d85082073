// The events list over real HTTP on Azurite reads no event's audit detail: a waiver's record holds
// its whole justification there, which no list shows. Only a removal event written before the
// RemovedBy column (who removed the server is then named in its detail alone) has its detail read,
// by a point read of that row, so the list still names who removed it, as the whole row does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viewOfEvent } from '../../src/app/present';
import { tableNames, type StoragePolicy } from '../../src/store';
import { oncePerRequest } from '../support/faults';
import { adminCall, getAll, post, type Json } from '../support/http';
import { rawTables } from '../support/raw-rows';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

const BY = 'ops@contoso.com';
const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
/** As long as a justification may be. */
const JUSTIFICATION = 'Port 25 stays open on KEEP01 until the relay moves. '.padEnd(2000, 'x');

/** The reads of the Events table sent to storage (decoded URLs); `on` while the test looks. */
const reads: { on: boolean; urls: string[] } = { on: false, urls: [] };
let eventsTable = '';
const firstAttempt = oncePerRequest();
const recorder: StoragePolicy = {
  name: 'testEventReads',
  async sendRequest(request, next) {
    const url = decodeURIComponent(request.url);
    if (reads.on && firstAttempt(request) && request.method === 'GET' && new URL(request.url).pathname.includes(`/${eventsTable}(`)) reads.urls.push(url);
    return next(request);
  },
};
/** The columns a read names in `$select` (none: the whole row). */
const selectOf = (url: string): string[] | undefined => new URL(url).searchParams.get('$select')?.split(',');

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, projectorIntervalMs: 0, storagePolicies: [recorder] });
  eventsTable = tableNames(stack.settings.tablePrefix).events;
});
afterAll(async () => stack?.stop());

describe('GET /api/events and the audit detail', () => {
  it('reads no detail but an older removal event’s, by a point read of that row, and answers as the whole rows do', async () => {
    for (const host of ['KEEP01', 'GONE01']) expect((await post(stack, snapshot({ host, testState: 'Warning' }))).status).toBe(201);
    const waiver = await adminCall(stack, 'PUT', 'waivers/w-relay', {
      rule: 'test-alpha',
      server: server('KEEP01'),
      justification: JUSTIFICATION,
      grantedBy: 'ciso@contoso.com',
      expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    });
    expect(waiver.status).toBe(201);
    expect((await stack.request(`servers/${server('GONE01')}?removedBy=${encodeURIComponent(BY)}`, { method: 'DELETE', key: 'admin' })).status).toBe(200);
    await stack.projected();

    // The removal event as an earlier version wrote it: who removed the server only in Detail.
    const { events } = rawTables(stack);
    const older: string[] = [];
    for await (const e of events.listEntities({ queryOptions: { filter: `Cause eq 'removed'` } })) {
      const { RemovedBy: _by, etag: _etag, timestamp: _at, ...row } = e as Record<string, unknown>;
      expect(JSON.parse(String(row.Detail))).toMatchObject({ removedBy: BY });
      await events.updateEntity(row as { partitionKey: string; rowKey: string }, 'Replace');
      older.push(String(e.rowKey));
    }
    expect(older).toHaveLength(1);

    reads.on = true;
    const listed = await getAll(stack, 'events?top=2');
    reads.on = false;
    expect(listed.pages).toBeGreaterThan(1);
    const kinds = listed.items.map((e: Json) => [e.cause, e.server, e.removedBy, e.waiverId]);
    expect(kinds).toContainEqual(['removed', server('GONE01'), BY, null]);
    expect(kinds).toContainEqual(['waiver-created', server('KEEP01'), null, 'w-relay']);
    // Every field as the whole rows give it (the detail among them).
    const whole = await stack.app.events.listEvents({}, 100);
    expect(whole.items.some((e) => e.waiverId === 'w-relay' && e.detail?.includes(JUSTIFICATION))).toBe(true);
    expect(listed.items).toEqual(whole.items.map((e) => viewOfEvent(e, 'en')));

    // The list's queries name their columns, Detail not among them; the one read of a Detail is the older removal row's.
    const queries = reads.urls.filter((u) => new URL(u).pathname.endsWith(`/${eventsTable}()`));
    expect(queries.length).toBe(listed.pages);
    for (const u of queries) expect(selectOf(u)).not.toContain('Detail');
    for (const u of queries) expect(selectOf(u)).toContain('RemovedBy');
    const detailReads = reads.urls.filter((u) => selectOf(u)?.includes('Detail') ?? true);
    expect(detailReads).toHaveLength(1);
    expect(detailReads[0]).toContain(`RowKey='${older[0]}'`);
  });
});
