// The projector on its own: it projects only entries whose commit happened (proven by the rows'
// remembered commit ids when another process wrote them), drops attempts that never committed once
// their grace is over, keeps one server's changes in order, runs one at a time across processes
// (the lease), and is triggered by the local host without anyone asking (interval and commit kick).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectionStores } from '../../src/app/create-app';
import { RECENT_COMMITS } from '../../src/app/ingest';
import { Projector, verdictOf } from '../../src/app/projector';
import { encodeWork, type ProjectionWork } from '../../src/app/projection-work';
import { OutboxStore, type StoredResult } from '../../src/store';
import { alertRecords, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { createTestApp, startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, projectorIntervalMs: 0 });
});
afterAll(async () => stack?.stop());

const minutesAgo = (m: number) => Date.now() - m * 60_000;
const serverOf = (host: string) => `${host.toLowerCase()}.corp.contoso.com`;
const quiet = { log: () => undefined };

async function postOnly(doc: Record<string, unknown>): Promise<void> {
  expect((await post(stack, doc, { drain: false })).status).toBe(201);
}

describe('whether an entry\'s commit happened', () => {
  const row = (commits: { id: string; at: number }[]) => ({ recentCommits: commits }) as unknown as StoredResult;
  const now = Date.parse('2026-12-01T10:00:00Z');
  const entry = { commitId: 'c1', writtenAt: now - 10 * 60_000, storedAt: now - 10 * 60_000 };

  it('committed when the rows remember it; waiting within the grace; never when the rows remember every commit since', () => {
    expect(verdictOf(entry, row([{ id: 'c2', at: now - 60_000 }, { id: 'c1', at: entry.writtenAt }]), now, 300_000, 16)).toBe('committed');
    expect(verdictOf({ ...entry, storedAt: now - 1000 }, row([]), now, 300_000, 16)).toBe('wait');
    expect(verdictOf(entry, row([{ id: 'c2', at: now - 60_000 }]), now, 300_000, 16)).toBe('never');
    expect(verdictOf(entry, undefined, now, 300_000, 16)).toBe('never');
  });

  it('unknown when the rows\' memory is full of commits younger than the entry', () => {
    const full = Array.from({ length: 16 }, (_, i) => ({ id: `x${i}`, at: now - i * 1000 }));
    expect(verdictOf(entry, row(full), now, 300_000, 16)).toBe('unknown');
    const old = [...full.slice(0, 15), { id: 'x15', at: entry.writtenAt - 400_000 }];
    expect(verdictOf(entry, row(old), now, 300_000, 16)).toBe('never');
  });
});

describe('the projector', () => {
  it('projects another process\'s entries after reading the commit off the rows, and drops attempts that never committed', async () => {
    const host = 'PROOF01';
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(20) }))).status).toBe(201);
    const other = createTestApp({ settings: stack.settings, rules: TEST_RULES });
    const outbox = new OutboxStore(other.store);
    // Attempts whose commit never came (their request failed at the commit): one before a real change, one after.
    const phantom = (commitId: string): ProjectionWork => ({ v: 1, server: serverOf(host), commitId, proofRule: 'test-alpha', events: [], alerts: [], index: [] });
    await outbox.put({ server: serverOf(host), commitId: 'never-1', writtenAt: minutesAgo(15), payload: encodeWork(phantom('never-1')) });
    await postOnly(snapshot({ host, testState: 'Error', collectedAt: minutesAgo(10) }));
    await outbox.put({ server: serverOf(host), commitId: 'never-2', writtenAt: Date.now(), payload: encodeWork(phantom('never-2')) });

    // Another process did not see the commit: it reads one Results row of the server.
    other.projectorStore.counter.reset();
    const run = await other.projector.drain(quiet);
    // The real change is proven and projected; the attempt before it can no longer commit (its
    // ETags predate that commit) and goes; the one after may still commit within its grace.
    expect(run).toMatchObject({ projected: 1, dropped: 1, waiting: 1 });
    expect(other.projectorStore.counter.byTable.get('Results')).toBe(1);
    const events = (await getAll(stack, `events?server=${serverOf(host)}&rule=test-alpha`)).items;
    expect(events.map((e: Json) => e.toStatus)).toEqual(['Error', 'Pass']);

    // Once its grace is over, nothing can commit it any more: dropped, nothing projected.
    const impatient = new Projector({ store: other.projectorStore, ...projectionStores(other.projectorStore), outbox: new OutboxStore(other.projectorStore), waivers: async () => () => undefined, graceMs: 0 }, RECENT_COMMITS);
    expect(await impatient.drain(quiet)).toMatchObject({ projected: 0, dropped: 1, waiting: 0 });
  });

  it('a drain that projected says so in one log line: how many entries, events and alert records, and the time per phase', async () => {
    await postOnly(snapshot({ host: 'TALLY01', testState: 'Warning', collectedAt: minutesAgo(5) }));
    const lines: string[] = [];
    const run = await stack.app.projector.drain({ log: (m) => lines.push(m) });
    // A first post: an event per rule, an alert record for the Warning.
    expect(run).toMatchObject({ projected: 1, alertRecords: 1 });
    expect(run.events).toBeGreaterThanOrEqual(1);
    expect(Object.keys(run.phaseMs ?? {}).sort()).toEqual(['alerts', 'clear', 'drift', 'events', 'hosts', 'index', 'raw', 'read']);
    const tally = lines.filter((l) => l.startsWith('projector: '));
    expect(tally).toHaveLength(1);
    expect(tally[0]).toMatch(new RegExp(`^projector: projected 1 outbox entries \\(${run.events} events, 1 alert records, 0 dropped, 0 waiting\\) in \\d+ ms \\(ms per phase: read \\d+, .*clear \\d+\\)\\.$`));
    // Nothing to do: no line (the timer ticks every few seconds).
    lines.length = 0;
    expect(await stack.app.projector.drain({ log: (m) => lines.push(m) })).toMatchObject({ projected: 0 });
    expect(lines).toEqual([]);
  });

  it('a full batch leaves the server it was cut through for the next batch, so that server\'s changes are never projected out of order', async () => {
    const hosts = Array.from({ length: 4 }, (_, i) => `CUT${i}`);
    for (const host of hosts) expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(30) }))).status).toBe(201);
    // Two changes per server, not projected yet: Pass → Warning → Pass.
    for (const host of hosts) await postOnly(snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(20) }));
    for (const host of hosts) await postOnly(snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(10) }));
    const outbox = new OutboxStore(stack.app.projectorStore);
    const listed = await outbox.list(100);
    expect(listed).toHaveLength(hosts.length * 2);
    // A batch that ends with the first entry of the second server listed.
    const second = listed.findIndex((e) => e.server !== listed[0]!.server);
    const batchSize = second + 1;
    const cut = listed[second]!.server;
    const projector = new Projector({ store: stack.app.projectorStore, ...projectionStores(stack.app.projectorStore), outbox, waivers: async () => () => undefined, batchSize }, RECENT_COMMITS);
    // A budget already spent: one batch.
    const run = await projector.drain(quiet, -1);
    expect(run.projected).toBe(second);
    expect((await outbox.list(100)).filter((e) => e.server === cut)).toHaveLength(2);
    // Then everything, a few entries at a time: every server ends where its last change put it.
    await projector.drain(quiet);
    expect(await outbox.list(100)).toEqual([]);
    for (const host of hosts) {
      const events = (await getAll(stack, `events?server=${serverOf(host)}&rule=test-alpha`)).items;
      expect(events.map((e: Json) => e.toStatus)).toEqual(['Pass', 'Warning', 'Pass']);
      const current = (await getAll(stack, `results?rule=test-alpha&status=Pass`)).items.filter((r: Json) => r.server === serverOf(host));
      expect(current).toHaveLength(1);
    }
  });

  it('a batch cut short by bytes holds a server\'s earliest changes, and the rest follow in order', async () => {
    const host = 'BYTES01';
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(30) }))).status).toBe(201);
    // Six changes back and forth, each with a body of about 20 KB, none projected yet.
    const states = ['Warning', 'Pass', 'Warning', 'Pass', 'Warning', 'Pass'];
    for (const [i, testState] of states.entries()) await postOnly(snapshot({ host, testState, collectedAt: minutesAgo(20 - i), tail: `line ${i}\n`.repeat(2_500) }));
    const outbox = new OutboxStore(stack.app.projectorStore);
    const mine = (await outbox.list(100)).filter((e) => e.server === serverOf(host));
    expect(mine).toHaveLength(states.length);
    // Listed in the order they were written, so any cut holds the earliest.
    expect(mine.map((e) => e.storedAt)).toEqual([...mine.map((e) => e.storedAt)].sort((a, b) => a - b));
    expect(new Set(mine.map((e) => e.storedAt)).size).toBe(states.length);
    expect(Math.min(...mine.map((e) => e.payload.length))).toBeGreaterThan(20_000);
    // Every batch holds one entry: the byte limit is below one entry's payload.
    expect(await outbox.list(100, 1)).toHaveLength(1);
    expect(await outbox.list(100, 2 * 20_000)).toHaveLength(2);
    const projector = new Projector({ store: stack.app.projectorStore, ...projectionStores(stack.app.projectorStore), outbox, waivers: async () => () => undefined, batchBytes: 1 }, RECENT_COMMITS);
    const run = await projector.drain(quiet);
    expect(run.projected).toBe(states.length);
    expect(await outbox.list(100)).toEqual([]);
    const events = (await getAll(stack, `events?server=${serverOf(host)}&rule=test-alpha`)).items;
    expect(events.map((e: Json) => e.toStatus)).toEqual(['Pass', ...states].reverse());
    // The index ends where the last change put the server, once.
    for (const status of ['Pass', 'Warning']) {
      const rows = (await getAll(stack, `results?rule=test-alpha&status=${status}`)).items.filter((r: Json) => r.server === serverOf(host));
      expect(rows, status).toHaveLength(status === 'Pass' ? 1 : 0);
    }
  });

  it('runs one at a time across processes: a second one finds the lease taken', async () => {
    const outbox = new OutboxStore(stack.app.projectorStore);
    expect(await outbox.takeLease('someone-else', Date.now(), Date.now() + 60_000)).toBe(true);
    await postOnly(snapshot({ host: 'LEASE01', testState: 'Warning', collectedAt: minutesAgo(5) }));
    expect(await stack.projected()).toMatchObject({ status: 'busy', projected: 0 });
    await outbox.releaseLease('someone-else');
    expect(await stack.projected()).toMatchObject({ status: 'done', projected: 1 });
  });

  it('two drains of the same entries side by side write each change once', async () => {
    const hosts = Array.from({ length: 6 }, (_, i) => `TWICE${i}`);
    for (const host of hosts) expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(20) }))).status).toBe(201);
    for (const host of hosts) await postOnly(snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) }));
    const other = createTestApp({ settings: stack.settings, rules: TEST_RULES });
    const lines: string[] = [];
    const both = await Promise.all([stack.projected(), other.projector.drain({ log: (m) => lines.push(m) })]);
    expect(both.map((r) => r.projected).reduce((a, b) => a + b, 0)).toBe(hosts.length);
    if (both.some((r) => r.status === 'busy')) expect(both.filter((r) => r.projected > 0)).toHaveLength(1);
    for (const host of hosts) {
      const events = (await getAll(stack, `events?server=${serverOf(host)}&rule=test-alpha`)).items;
      expect(events.map((e: Json) => e.toStatus)).toEqual(['Warning', 'Pass']);
    }
    const logged = [...alertRecords(stack), ...lines.filter((l) => l.startsWith('FleetPosture.')).map((l) => ({ fields: JSON.parse(l.slice(l.indexOf(' ') + 1)) as Record<string, unknown> }))].filter((a) =>
      hosts.some((h) => a.fields.server === serverOf(h) && a.fields.status === 'Warning'),
    );
    expect(logged).toHaveLength(hosts.length);
  });
});

describe('the local host triggers it', () => {
  it('a status change becomes visible without anyone draining: the commit kicks a drain, the interval catches the rest', async () => {
    const live = await startTestStack({ rules: TEST_RULES });
    try {
      const host = 'KICK01';
      const key = await live.serverKey(serverOf(host));
      const send = async (state: string, at: number) => {
        const res = await live.request('snapshots', { method: 'POST', key: null, headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify(snapshot({ host, testState: state, collectedAt: at })) });
        expect(res.status).toBe(201);
        await res.arrayBuffer();
      };
      await send('Pass', minutesAgo(20));
      await send('Error', minutesAgo(10));
      const deadline = Date.now() + 10_000;
      let seen: string[] = [];
      const alerts = () => alertRecords(live).filter((a) => a.fields.server === serverOf(host) && a.name === 'FleetPosture.NewFinding');
      while (Date.now() < deadline) {
        seen = ((await (await live.request(`events?server=${serverOf(host)}&rule=test-alpha`)).json()) as { items: { toStatus: string }[] }).items.map((e) => e.toStatus);
        if (seen.length === 2 && alerts().length > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(seen).toEqual(['Error', 'Pass']);
      expect(alerts()).toHaveLength(1);
    } finally {
      await live.stop();
    }
  });
});

describe('hosts attached to one app', () => {
  const lines = () => {
    const seen: string[] = [];
    return { seen, log: { log: (m: string) => seen.push(m) } };
  };
  const projectedBy = async (sink: { seen: string[] }) => {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !sink.seen.some((l) => /projected 1 outbox entr/.test(l))) await new Promise((r) => setTimeout(r, 50));
    return sink.seen;
  };

  it('a host that stops takes away only its own attachment: the other host\'s commits still start drains', async () => {
    const first = lines();
    const second = lines();
    const releaseFirst = stack.app.projector.attach(first.log, 0, 1000);
    const releaseSecond = stack.app.projector.attach(second.log, 0, 1000);
    try {
      releaseSecond();
      await postOnly(snapshot({ host: 'ATTACH01', testState: 'Warning', collectedAt: minutesAgo(5) }));
      expect(await projectedBy(first)).toContainEqual(expect.stringMatching(/projected 1 outbox entr/));
      expect(second.seen).toEqual([]);
    } finally {
      releaseFirst();
    }
  });

  it('a drain a stopping host had scheduled is started by the host left', async () => {
    const staying = lines();
    const leaving = lines();
    const releaseStaying = stack.app.projector.attach(staying.log, 0, 1000);
    // The leaving host waits long for commits to pause, so its drain is still pending when it stops.
    const releaseLeaving = stack.app.projector.attach(leaving.log, 60_000, 60_000);
    try {
      await postOnly(snapshot({ host: 'ATTACH02', testState: 'Error', collectedAt: minutesAgo(5) }));
      expect(stack.app.projector.kickPending).toBe(true);
      releaseLeaving();
      expect(await projectedBy(staying)).toContainEqual(expect.stringMatching(/projected 1 outbox entr/));
      expect(leaving.seen).toEqual([]);
    } finally {
      releaseStaying();
    }
  });
});
