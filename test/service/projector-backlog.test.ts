// How long accepted changes have waited for the projector: the oldest outbox entry's age, as
// storage dated it, so it is the same in any process and grows across restarts (a projector
// restarted between failing runs never reaches ProjectionFailed's per-process threshold). Each run
// that found work logs it, and the projector job's status route answers it. Azurite, the local
// host, real posts over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxStore, tableNames } from '../../src/store';
import { refusedWrites } from '../support/faults';
import { get, minutesAgo, post, postUndrained } from '../support/http';
import { serverOf } from '../support/raw-rows';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { createTestApp, startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let outbox: OutboxStore;
/** How far the app's clock (its routes') runs ahead of this one. */
let ahead = 0;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, projectorIntervalMs: 0, clock: () => Date.now() + ahead });
  outbox = new OutboxStore(stack.app.projectorStore);
});
afterAll(async () => stack?.stop());

/** The structured records of one name among log lines. */
const recordsIn = (lines: readonly string[], name: string) => lines.flatMap((l) => (l.startsWith(`${name} `) ? [JSON.parse(l.slice(name.length + 1)) as Record<string, unknown>] : []));

describe('the outbox backlog', () => {
  it('is the oldest entry by the time storage wrote it, wherever its key sorts; a bounded read says when more wait', async () => {
    // Written last-key-first, a few ms apart, so the oldest is not the first listed.
    const servers = ['zulu.corp.contoso.com', 'mike.corp.contoso.com', 'alpha.corp.contoso.com'];
    for (const server of servers) {
      await outbox.put({ server, commitId: `backlog-${server}`, writtenAt: Date.now(), payload: '{}' });
      await new Promise((r) => setTimeout(r, 5));
    }
    const listed = await outbox.list(10);
    const first = listed.reduce((a, b) => (b.storedAt < a.storedAt ? b : a));
    expect(new Set(listed.map((e) => e.storedAt)).size).toBe(3);
    expect(listed[0]!.server).not.toBe(first.server);

    expect(await outbox.oldestWaiting(10)).toEqual({ entries: 3, more: false, oldest: { storedAt: first.storedAt, server: first.server } });
    const bounded = await outbox.oldestWaiting(2);
    expect(bounded).toMatchObject({ entries: 2, more: true });
    await outbox.remove(listed);
    expect(await outbox.oldestWaiting(10)).toEqual({ entries: 0, more: false });
  });

  it('is logged by every run that finds work, the same in a restarted process, and answered by the projector job\'s status', async () => {
    const host = 'BACKLOG01';
    // Counted once, so its change moves its index row (the refused writes below meet it).
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(10) }))).status).toBe(201);
    await postUndrained(stack, snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) }));
    const [entry] = await outbox.list(10);
    expect(entry?.server).toBe(serverOf(host));

    // Every run fails (the rule index refuses writes), each in a fresh process: each one's failure
    // record counts from its own start, the backlog record from when storage took the change.
    const refused = refusedWrites('backlogRefused');
    refused.table = tableNames(stack.settings.tablePrefix).ruleIndex;
    refused.on = true;
    const runs: string[][] = [];
    for (let restart = 0; restart < 2; restart++) {
      const fresh = createTestApp({ settings: stack.settings, rules: TEST_RULES, storeOptions: { policies: [refused.policy], maxRetries: 0 } });
      const lines: string[] = [];
      await expect(fresh.projector.drain({ log: (m) => lines.push(m) })).rejects.toThrow();
      runs.push(lines);
    }
    for (const lines of runs) {
      expect(recordsIn(lines, 'FleetPosture.ProjectionFailed')).toMatchObject([{ failingMinutes: 0 }]);
      const [backlog] = recordsIn(lines, 'FleetPosture.ProjectorBacklog');
      expect(backlog).toMatchObject({ waiting: 1, more: false, oldestServer: serverOf(host), oldestWaitingAt: new Date(entry!.storedAt).toISOString() });
      expect(backlog!.oldestWaitingMinutes).toEqual(expect.any(Number));
    }

    // The status route, 20 minutes on by the app's clock: the change has waited that long.
    ahead = 20 * 60_000;
    const status = await get(stack, 'jobs/projector');
    ahead = 0;
    expect(status.status).toBe(200);
    expect(status.body.waiting).toMatchObject({ entries: 1, more: false, oldestAt: new Date(entry!.storedAt).toISOString(), oldestServer: serverOf(host) });
    expect(status.body.waiting.oldestSeconds).toBeGreaterThanOrEqual(20 * 60);

    // Projected: nothing waits, and the run that emptied the outbox says so.
    expect(await stack.projected()).toMatchObject({ projected: 1 });
    const after = stack.logs.map((l) => l.message);
    expect(recordsIn(after, 'FleetPosture.ProjectorBacklog').at(-1)).toMatchObject({ waiting: 0, oldestWaitingAt: null, oldestWaitingMinutes: 0 });
    expect((await get(stack, 'jobs/projector')).body.waiting).toEqual({ entries: 0, more: false, oldestAt: null, oldestSeconds: 0, oldestServer: null });
    // The usual tick that finds the outbox empty logs nothing.
    const logged = stack.logs.length;
    expect(await stack.projected()).toMatchObject({ status: 'done', entries: 0 });
    expect(stack.logs.length).toBe(logged);
  });
});
