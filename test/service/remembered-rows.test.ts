// An instance remembers the row its last commit (or read) of a one-rule server left, and decides
// the server's next post on it without reading: the commit's ETag condition proves the row was still
// the stored one. Two instances over one Azurite, each behind its own local host, show what happens
// when it was not: another instance's commit, a revocation, a repeat of a snapshot the other
// instance accepted, posts served by the instances in turn.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostureApp } from '../../src/app/create-app';
import { loadSettings } from '../../src/app/settings';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import { OutboxStore, type StoragePolicy, type StoredResult } from '../../src/store';
import { ROW_CACHE_PAUSE_AT } from '../../src/store/server-row-cache';
import { propertyRuns } from '../support/property-runs';
import { alphaRule, snapshot } from '../support/snapshots';
import { createTestApp, startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

/** A policy recording an instance's Results reads and refused writes into `into`, as "point", "query" or "refused". */
const recording = (into: string[]): StoragePolicy => ({
  name: 'testRecordResults',
  async sendRequest(request, next) {
    const path = decodeURIComponent(new URL(request.url).pathname);
    const res = await next(request);
    if (request.method === 'GET' && /\/Results\(/.test(path)) into.push(/\/Results\(\)$/.test(path) ? 'query' : 'point');
    if (request.method !== 'GET' && /\/Results\(/.test(path) && res.status === 412) into.push('refused');
    return res;
  },
});
/** What instance A did. */
const seen: string[] = [];

let stack: TestStack;
let appB: PostureApp;
let hostB: LocalHost;
beforeAll(async () => {
  stack = await startTestStack({ rules: [alphaRule], storagePolicies: [recording(seen)], projectorIntervalMs: 0 });
  appB = createTestApp({ settings: stack.settings, rules: [alphaRule], storeOptions: { maxRetries: 1 } });
  hostB = await startLocalHost({ app: appB, port: 0, log: () => undefined, projectorIntervalMs: 0 });
});
afterAll(async () => {
  await hostB?.close();
  await stack?.stop();
});

const fqdn = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
const ids = [alphaRule.id];
let minute = 0;
/** A snapshot of `host`, each one collected a minute after the one before. */
const next = (host: string, testState = 'Pass') => snapshot({ host, testState, collectedAt: Date.now() - 900 * 60_000 + ++minute * 60_000 });

/** A row read, as an instance remembers it: no evidence, remediation or fingerprint facts. */
const remembered = (r: StoredResult): StoredResult => ({ ...r, evidenceJson: '{}', evidenceTruncated: false, remediation: { en: [], ja: [] }, fingerprintFactsJson: undefined });

/** Instance A (the test stack's), B, or another local host's base URL. */
async function postTo(to: 'A' | 'B' | string, doc: Record<string, unknown>, key?: string) {
  const host = (doc.host as { name: string }).name;
  const res = await fetch(`${to === 'A' ? stack.baseUrl : to === 'B' ? hostB.baseUrl : to}/api/snapshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key ?? (await stack.serverKey(fqdn(host))) },
    body: JSON.stringify(doc),
  });
  return { status: res.status, body: (await res.json()) as { outcome?: string; error?: string } };
}

/** The server's status changes in Events, oldest first, once the outbox is projected. */
async function changes(host: string): Promise<string[]> {
  await stack.projected();
  const res = await stack.request(`events?server=${fqdn(host)}&rule=${alphaRule.id}&top=100`);
  const items = ((await res.json()) as { items: { fromStatus?: string; toStatus: string; snapshotId: string }[] }).items;
  return items.reverse().map((e) => `${e.fromStatus ?? '-'}>${e.toStatus}`);
}

describe('the row an instance remembers', () => {
  it('a steady post to the instance that committed the last one costs one round trip (the commit), a status change two (its outbox entry and the commit)', async () => {
    const host = 'MEMO01';
    expect((await postTo('A', next(host))).status).toBe(201);
    seen.length = 0;
    stack.roundTrips.reset();
    stack.app.keyStore.counter.reset();
    expect((await postTo('A', next(host))).status).toBe(201);
    expect(stack.roundTrips.count).toBe(1);
    expect(seen).toEqual([]);

    stack.roundTrips.reset();
    expect((await postTo('A', next(host, 'Warning'))).status).toBe(201);
    expect(Object.fromEntries(stack.roundTrips.byTable)).toEqual({ Outbox: 1, Results: 1 });
    expect(stack.app.keyStore.counter.count).toBe(1); // the second post tagged the key; none since
    expect(await changes(host)).toEqual(['->Pass', 'Pass>Warning']);
  });

  it('is what a read returns (but evidence, remediation and fingerprint facts), after any run of posts', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ state: fc.constantFrom('Pass', 'Warning', 'Error'), upgraded: fc.boolean() }), { minLength: 1, maxLength: 5 }), async (posts) => {
        const host = `MEMOP${run++}`;
        for (const p of posts) {
          // A new collector version changes the host's facts (a Hosts refresh is owed).
          const doc = snapshot({ host, testState: p.state, collectedAt: Date.now() - 900 * 60_000 + ++minute * 60_000, collectorVersion: p.upgraded ? `1.0.${minute}` : undefined });
          expect((await postTo('A', doc)).status).toBe(201);
          // What the commit left in memory, then the partition as queried (which remembers nothing).
          const inMemory = stack.app.store.rememberedServerRows(fqdn(host), ids);
          expect(inMemory).toEqual((await stack.app.store.readServer(fqdn(host))).map(remembered));
        }
      }),
      { numRuns: propertyRuns(12), seed: 20261203 },
    );
  });

  it('after another instance’s commit the remembered row is outdated: the commit is refused, the rows are read, and the post is decided again (one event per change)', async () => {
    const host = 'MEMO02';
    expect((await postTo('A', next(host))).status).toBe(201);
    expect((await postTo('B', next(host, 'Warning'))).status).toBe(201);
    seen.length = 0;
    expect((await postTo('A', next(host, 'Error'))).status).toBe(201);
    expect(seen).toEqual(['refused', 'point']);
    const [row] = await stack.app.store.readServer(fqdn(host));
    expect({ status: row!.status, previousStatus: row!.previousStatus }).toEqual({ status: 'Error', previousStatus: 'Warning' });
    expect(await changes(host)).toEqual(['->Pass', 'Pass>Warning', 'Warning>Error']);
  });

  it('a repeat of a snapshot the other instance accepted is a duplicate, decided on rows read, and writes nothing', async () => {
    const host = 'MEMO03';
    expect((await postTo('A', next(host))).status).toBe(201);
    const repeat = next(host, 'Warning');
    expect((await postTo('B', repeat)).status).toBe(201);
    const before = await stack.app.store.readServer(fqdn(host));
    const r = await postTo('A', repeat);
    expect([r.status, r.body.outcome]).toEqual([200, 'duplicate']);
    expect(await stack.app.store.readServer(fqdn(host))).toEqual(before);
    // An older snapshot than the one it remembers is decided on rows read too.
    seen.length = 0;
    const older = snapshot({ host, testState: 'Error', collectedAt: Date.now() - 2000 * 60_000 });
    expect((await postTo('A', older)).body.outcome).toBe('stale');
    expect(seen).toEqual(['point']);
    expect(await changes(host)).toEqual(['->Pass', 'Pass>Warning']);
  });

  it('a key revoked through another instance is refused, though the remembered row still carries its tag, and nothing is written', async () => {
    const host = 'MEMO04';
    const key = await stack.serverKey(fqdn(host));
    const first = next(host);
    const last = next(host);
    for (const doc of [first, last]) expect((await postTo('A', doc, key)).status).toBe(201);
    expect(stack.app.store.rememberedServerRows(fqdn(host), ids)?.[0]?.keyTag).toBeDefined();
    const revoked = await fetch(`${hostB.baseUrl}/api/servers/${fqdn(host)}/key`, { method: 'DELETE', headers: { 'x-api-key': TEST_KEYS.admin } });
    expect(revoked.status).toBe(200);
    const before = await stack.app.store.readServer(fqdn(host));
    for (const doc of [next(host, 'Error'), next(host), last]) {
      const r = await postTo('A', doc, key);
      expect([r.status, r.body.error]).toEqual([401, 'key_revoked']);
    }
    expect(await stack.app.store.readServer(fqdn(host))).toEqual(before);
    expect(await changes(host)).toEqual(['->Pass']);
  });

  for (const change of [false, true]) {
    it(`a key revoked between its check on the remembered row and the commit (${change ? 'a status change' : 'a steady post'}): the commit is refused, the key checked again on rows read and refused, nothing written`, async () => {
      // An instance whose next one-row commit waits for `during` (the revocation, through B).
      const pause: { during?: () => Promise<void> } = {};
      const done: string[] = [];
      const pausing: StoragePolicy = {
        name: 'testPauseOneRowCommit',
        async sendRequest(request, next) {
          const during = pause.during;
          if (during && request.method === 'PUT' && /\/Results\(/.test(decodeURIComponent(new URL(request.url).pathname)) && request.headers.has('If-Match')) {
            pause.during = undefined;
            await during();
          }
          return next(request);
        },
      };
      const appD = createTestApp({ settings: stack.settings, rules: [alphaRule], storeOptions: { maxRetries: 1, policies: [recording(done), pausing] } });
      const hostD = await startLocalHost({ app: appD, port: 0, log: () => undefined, projectorIntervalMs: 0 });
      try {
        const host = change ? 'MEMO10' : 'MEMO09';
        const key = await stack.serverKey(fqdn(host));
        // The second post checks ServerKeys and tags the key; the instance remembers the tagged row.
        for (let i = 0; i < 2; i++) expect((await postTo(hostD.baseUrl, next(host), key)).status).toBe(201);
        expect(appD.store.rememberedServerRows(fqdn(host), ids)?.[0]?.keyTag).toBeDefined();

        let revoked = 0;
        pause.during = async () => {
          revoked = (await fetch(`${hostB.baseUrl}/api/servers/${fqdn(host)}/key`, { method: 'DELETE', headers: { 'x-api-key': TEST_KEYS.admin } })).status;
        };
        done.length = 0;
        const r = await postTo(hostD.baseUrl, next(host, change ? 'Warning' : 'Pass'), key);
        expect(revoked).toBe(200);
        // Admitted on the remembered row's tag (no read before the commit), refused at the commit,
        // then refused on the rows read (their tag is gone, so the key is checked in ServerKeys).
        expect([r.status, r.body.error]).toEqual([401, 'key_revoked']);
        expect(done).toEqual(['refused', 'point']);
        const [row] = await stack.app.store.readServer(fqdn(host));
        expect({ keyTag: row!.keyTag, status: row!.status }).toEqual({ keyTag: undefined, status: 'Pass' });
        // No event for the refused change, and the refused attempt removed its own outbox entry.
        expect(await changes(host)).toEqual(['->Pass']);
        expect((await new OutboxStore(stack.app.store).list(1000)).filter((e) => e.server === fqdn(host))).toEqual([]);
        expect((await postTo(hostD.baseUrl, next(host), key)).body.error).toBe('key_revoked');
      } finally {
        await hostD.close();
      }
    });
  }

  it('two posts of one server decided on the same remembered row in one instance: the one refused does not count towards pausing memory (reading first, they would collide too)', async () => {
    // Holds the next outbox entry's write until released (telling `reached` when it does), so a
    // second post is admitted on the row the first was decided on, before the first commits.
    const hold: { until?: Promise<void>; reached?: () => void } = {};
    const holding: StoragePolicy = {
      name: 'testHoldOutboxWrite',
      async sendRequest(request, next) {
        const until = hold.until;
        // An entry's write (not the projector's lease or clean-up, which touch the same table).
        if (until && request.method === 'PUT' && /Outbox\(PartitionKey='entries'/.test(decodeURIComponent(new URL(request.url).pathname))) {
          hold.until = undefined;
          hold.reached?.();
          await until;
        }
        return next(request);
      },
    };
    const done: string[] = [];
    const appE = createTestApp({ settings: stack.settings, rules: [alphaRule], storeOptions: { maxRetries: 1, policies: [recording(done), holding] } });
    const hostE = await startLocalHost({ app: appE, port: 0, log: () => undefined, projectorIntervalMs: 0 });
    try {
      const host = 'MEMO11';
      for (let i = 0; i < 2; i++) expect((await postTo(hostE.baseUrl, next(host))).status).toBe(201);
      done.length = 0;
      // Both change the status (so each writes an outbox entry, the second's waiting behind the first's).
      let current = 'Pass';
      for (let pair = 0; pair < ROW_CACHE_PAUSE_AT + 2; pair++) {
        const [first_, second_] = ['Pass', 'Warning', 'Error'].filter((st) => st !== current) as [string, string];
        let release!: () => void;
        hold.until = new Promise<void>((r) => (release = r));
        const reached = new Promise<void>((r) => (hold.reached = r));
        const first = postTo(hostE.baseUrl, next(host, first_));
        await reached;
        // The first is held at its outbox write; the second is admitted and decided on the same row
        // (well within the wait, which a loaded machine may need), its entry queued behind the first's.
        const second = postTo(hostE.baseUrl, next(host, second_));
        await new Promise((r) => setTimeout(r, 200));
        release();
        expect((await Promise.all([first, second])).map((r) => r.status)).toEqual([201, 201]);
        current = second_;
      }
      // Every second post was refused once, then read and committed.
      expect(done.filter((d) => d === 'refused')).toHaveLength(ROW_CACHE_PAUSE_AT + 2);
      // Memory still serves: a steady post costs its commit alone.
      done.length = 0;
      appE.store.counter.reset();
      expect((await postTo(hostE.baseUrl, next(host, current))).status).toBe(201);
      expect(done).toEqual([]);
      expect(appE.store.counter.count).toBe(1);
    } finally {
      await hostE.close();
    }
  });

  it('served by two instances in turn, an instance stops trusting its memory once refusals mount, and its posts cost a read and a write again', async () => {
    // A third instance, whose memory has seen no refusal yet.
    const done: string[] = [];
    const appC = createTestApp({ settings: stack.settings, rules: [alphaRule], storeOptions: { maxRetries: 1, policies: [recording(done)] } });
    const hostC = await startLocalHost({ app: appC, port: 0, log: () => undefined, projectorIntervalMs: 0 });
    try {
      const hosts = ['MEMO05', 'MEMO06', 'MEMO07', 'MEMO08'];
      for (const host of hosts) expect((await postTo(hostC.baseUrl, next(host))).status).toBe(201);
      const refusedPosts: number[] = [];
      for (let round = 0; round < 3; round++) {
        for (const host of hosts) {
          expect((await postTo('B', next(host))).status).toBe(201);
          done.length = 0;
          appC.store.counter.reset();
          expect((await postTo(hostC.baseUrl, next(host))).status).toBe(201);
          if (done.includes('refused')) refusedPosts.push(round * hosts.length + hosts.indexOf(host));
          else {
            // Paused: a read and the write, no refused write first.
            expect(done).toEqual(['point']);
            expect(appC.store.counter.count).toBe(2);
          }
        }
      }
      // The first posts were all refused, until the pause; none after it.
      expect(refusedPosts).toEqual(Array.from({ length: ROW_CACHE_PAUSE_AT }, (_, i) => i));
    } finally {
      await hostC.close();
    }
  });
});

describe('POSTURE_REMEMBERED_ROWS_MB', () => {
  it('is 32 by default, 0 turns memory off, and anything else but a whole number stops the start with a sentence naming it', () => {
    expect(loadSettings({}).rememberedRowsMb).toBe(32);
    expect(loadSettings({ POSTURE_REMEMBERED_ROWS_MB: '0' }).rememberedRowsMb).toBe(0);
    for (const bad of ['-1', '1.5', 'lots']) expect(() => loadSettings({ POSTURE_REMEMBERED_ROWS_MB: bad })).toThrow(`Setting POSTURE_REMEMBERED_ROWS_MB must be 0 or a positive integer, not "${bad}".`);
    // The same reading of whole numbers where 0 means nothing: refused.
    expect(() => loadSettings({ POSTURE_RATE_LIMIT_BURST: '0' })).toThrow('Setting POSTURE_RATE_LIMIT_BURST must be a positive integer, not "0".');
  });
});
