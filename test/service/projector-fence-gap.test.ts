// A projector whose lease lapsed sends a server's first join after the projector that took over
// projected that join and the server's removal in one batch. There the two merge into one leave
// that finds nothing to take out, so the newer projector moves nothing in the server's shard; it
// must still leave its generation there, or the stale first join meets no newer fence and counts
// a removed server for good (the rule index and drift alike). Real port-25 fixtures over HTTP,
// Azurite, the local host; the test plays the older projector on a store of its own whose index and
// drift transactions wait while the app's projector takes its turn.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectionStores } from '../../src/app/create-app';
import { RECENT_COMMITS } from '../../src/app/ingest';
import { Projector } from '../../src/app/projector';
import { STATUSES } from '../../src/rules/types';
import { DriftStore, driftShardOf, OutboxStore, RuleIndexStore, tableNames, type StoragePolicy } from '../../src/store';
import type { TableClients } from '../../src/store/client';
import { get, postUndrained } from '../support/http';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, serverIdOf } from '../support/drift';
import { createTestStore, stackTables, startTestStack, type TestStack } from '../support/stack';
import { countsAgree } from '../support/tables';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const RULE = DRIFT_RULE;
const id = serverIdOf;

let stack: TestStack;
let tables: TableClients;
let minute = 0;

beforeAll(async () => {
  stack = await startTestStack({ projectorIntervalMs: 0 });
  tables = stackTables(stack);
}, 120_000);
afterAll(async () => stack?.stop());

/** Posts the default-list fixture as `host` without draining the projector. */
async function postOnly(host: string): Promise<void> {
  await postUndrained(stack, fixtureAs(readFixture(DEFAULT_LIST) as Record<string, unknown>, host, Date.now() - 60 * 60_000 + minute++ * 60_000));
}

/** The rule's servers as its index counts them (every shard, every status). */
async function indexed(): Promise<number> {
  const counts = (await new RuleIndexStore(stack.app.store).getRuleCounts([RULE])).get(RULE)!;
  return [...counts.values()].reduce((a, b) => a + b, 0);
}

/** The server's member rows in the rule index. */
async function indexRows(server: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const e of tables.ruleIndex.listEntities({ queryOptions: { filter: `Server eq '${server}' and RuleId eq '${RULE}'` } })) out.push(e.rowKey);
  return out;
}

/**
 * A projector of its own store (its own lease owner), whose rule-index and drift transactions all
 * wait for `takeover` (run once, by the first of them) before they are sent.
 */
function olderProjector(takeover: () => Promise<void>): Projector {
  let once: Promise<void> | undefined;
  const names = tableNames(stack.settings.tablePrefix);
  // A transaction's operations name their table's URL: `/<table>(keys)` for a row, `/<table> ` for a create.
  const fenced = new RegExp(`/(${names.ruleIndex}|${names.drift})[( ]`);
  const held: StoragePolicy = {
    name: 'olderProjectorHeld',
    async sendRequest(request, next) {
      const body = typeof request.body === 'string' ? request.body : '';
      if (request.url.endsWith('$batch') && fenced.test(body)) await (once ??= takeover());
      return next(request);
    },
  };
  const store = createTestStore({ connectionString: stack.settings.storageConnectionString, tablePrefix: stack.settings.tablePrefix, statuses: STATUSES, maxRetries: 1, policies: [held] });
  return new Projector({ store, ...projectionStores(store), outbox: new OutboxStore(store), drift: new DriftStore(store), waivers: async () => () => undefined }, RECENT_COMMITS);
}

describe('a projector whose lease another one took while its first join of a server was on its way', () => {
  const names = Array.from({ length: 200 }, (_, i) => `GAP${String(i).padStart(3, '0')}`);
  const shardOf = (n: string) => driftShardOf(id(n));
  const [a, b] = [...new Set(names.map(shardOf))];
  const inShard = (s: string | undefined) => names.filter((n) => shardOf(n) === s);

  it.each([
    // Another server of the shard counted before: the shard's counts and fence rows exist, under an older generation.
    { name: 'beside a server counted before', neighbour: inShard(a)[0], host: inShard(a)[1]! },
    // No row of the shard yet: the stale join would create them.
    { name: 'alone in its shard', neighbour: undefined, host: inShard(b)[0]! },
  ])('$name: is refused once the other one projected the first post and the removal in one batch', async ({ neighbour, host }) => {
    if (neighbour) {
      await postOnly(neighbour);
      expect(await stack.projected()).toMatchObject({ status: 'done', projected: 1 });
    }
    const before = { drift: (await get(stack, `drift?rule=${RULE}`)).body.servers as number, index: await indexed() };
    await postOnly(host);
    let tookOver = false;
    const older = olderProjector(async () => {
      // The older projector's renewals stalled and its lease lapsed: the app's projector takes it,
      // and by then the server's removal waits in the outbox beside its first post.
      await tables.outbox.updateEntity({ partitionKey: '~lease', rowKey: 'projector', Until: new Date(0) }, 'Merge');
      const removed = await stack.request(`servers/${encodeURIComponent(id(host))}?removedBy=ops`, { method: 'DELETE', key: 'admin' });
      expect(removed.status, await removed.text()).toBe(200);
      expect(await stack.projected()).toMatchObject({ status: 'done', projected: 2 });
      expect(await indexed()).toBe(before.index);
      expect((await get(stack, `drift?rule=${RULE}`)).body.servers).toBe(before.drift);
      tookOver = true;
    });
    const lines: string[] = [];
    const run = await older.drain({ log: (m) => lines.push(m) });
    expect(tookOver).toBe(true);

    expect(await new DriftStore(stack.app.store).getMember(RULE, id(host))).toBeUndefined();
    expect((await get(stack, `drift?rule=${RULE}`)).body.servers).toBe(before.drift);
    expect(await indexRows(id(host))).toEqual([]);
    expect(await indexed()).toBe(before.index);
    await countsAgree(stack, RULE);
    expect(run).toMatchObject({ status: 'busy', projected: 0 });
    expect(lines.some((l) => /later lease/.test(l))).toBe(true);
  });
});
