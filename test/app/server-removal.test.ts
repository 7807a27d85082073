// A server's removal without storage: its keys revoked, then its outbox entry and one commit that
// turns each of its rows into a removal marker, in that order, over its rows held in memory. A post
// landing meanwhile, a commit whose answer was lost, refusals and outages are played by the fake
// store; test/service/server-removal.test.ts runs the same paths over HTTP and Azurite.
import { RestError } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { isoInstant as iso } from '../../src/app/iso-time';
import { RECENT_COMMITS } from '../../src/app/ingest';
import { ServerRemoval, type ServerRemovalDeps } from '../../src/app/server-removal';
import { ConcurrencyConflictError, REMOVED_STATUS, type StoredResult } from '../../src/store';
import { refusalOf } from '../support/api-request';
import { memoryPartition } from '../support/memory-partition';
import { storedResult } from '../support/stored-results';

const NOW = Date.parse('2026-12-06T12:00:00.000Z');
const MINUTE = 60_000;
const SERVER = 'exch01.corp.contoso.com';
const ADMIN = 'ops@contoso.com';
const S1 = '3b1f6c2e-5d4a-4c8b-9e7f-0a1b2c3d4e5f';
const S2 = '7c2d8e9f-1a2b-4c3d-8e4f-5a6b7c8d9e0f';

/** A stored result of SERVER as a post leaves it: posted a minute ago, its commits remembered. */
const row = (ruleId: string, over: Partial<StoredResult> = {}): StoredResult =>
  storedResult({
    server: SERVER,
    ruleId,
    firstSeen: NOW - 30 * MINUTE,
    previousStatus: 'Pass',
    previousFirstSeen: NOW - 90 * MINUTE,
    snapshotId: S1,
    collectedAt: NOW - 2 * MINUTE,
    lastSeen: NOW - MINUTE,
    contentHash: 'c1',
    hostHash: 'h1',
    hostSyncedAt: NOW - 20 * MINUTE,
    changeCause: 'snapshot',
    rawSlot: 1,
    keyTag: 'tag1',
    recentSnapshotIds: [S1],
    recentCommits: [{ id: 'older-commit', at: NOW - MINUTE }],
    etag: 'unset',
    ...over,
  });

/** SERVER with the given rows stored, its keys, the projector and the audit log, and every call, in order. */
function world(stored: readonly StoredResult[] = [row('test-alpha'), row('test-beta', { status: 'Pass', reasonCode: 'Excluded' })], revoked: { keys: { revoked: string[]; settled: string[] } | undefined } = { keys: { revoked: ['k1', 'k2'], settled: ['r1'] } }) {
  const p = memoryPartition();
  p.land({ put: stored.map((record) => ({ record })), remove: [] });
  const lines: string[] = [];
  const deps = {
    clock: () => NOW,
    store: {
      readPartition: async (server: string) => (p.calls.push(`read ${server}`), p.read()),
      commitServer: p.commitServer,
    },
    outbox: p.outbox,
    enrolment: { revoke: async (server: string, _log: unknown, block: boolean) => (p.calls.push(`revoke ${server}${block ? ' blocking' : ''}`), revoked.keys) },
    projector: { committed: (id: string) => p.calls.push(`committed ${id}`), kick: () => p.calls.push('kick') },
  };
  const removal = new ServerRemoval(deps as unknown as ServerRemovalDeps);
  return {
    ...p,
    deps,
    lines,
    remove: (block = false) => removal.remove(SERVER, ADMIN, block, { log: (l: string) => void lines.push(l) }),
  };
}

describe('removing a server that posted', () => {
  it('revokes its keys, writes its outbox entry, then commits a marker for every row, then tells the projector', async () => {
    const w = world();
    await w.remove();
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, `revoke ${SERVER}`, `read ${SERVER}`, 'entry', 'commit test-alpha,test-beta', 'committed', 'kick']);
    const [entry] = [...w.entries.values()];
    expect(entry).toMatchObject({ server: SERVER, writtenAt: NOW });
    expect(entry!.commitId).toMatch(/^[0-9a-z]{10}-[0-9a-f-]{36}$/);
    // The projector is told of the commit the entry describes.
    expect(w.calls).toContain(`committed ${entry!.commitId}`);
  });

  it('answers its rules (sorted), who removed it and when, and the keys and requests the revocation closed', async () => {
    const w = world([row('test-beta'), row('test-alpha')]);
    expect(await w.remove()).toStrictEqual({ server: SERVER, removedAt: iso(NOW), removedBy: ADMIN, rules: ['test-alpha', 'test-beta'], revoked: ['k1', 'k2'], settled: ['r1'] });
  });

  it('writes one audit record naming its rules, revoked keys and whether it may enrol again', async () => {
    const w = world();
    await w.remove(true);
    expect(w.lines).toStrictEqual([`FleetPosture.ServerRemoved ${JSON.stringify({ server: SERVER, removedBy: ADMIN, rules: 'test-alpha,test-beta', revoked: 'k1,k2', reenrolment: 'blocked' })}`]);
    expect(w.steps()[1]).toBe(`revoke ${SERVER} blocking`);
  });

  it('answers no revoked keys or requests, and audits revoked as null, when the server held no key', async () => {
    for (const keys of [undefined, { revoked: [], settled: [] }]) {
      const w = world(undefined, { keys });
      expect(await w.remove()).toMatchObject({ revoked: [], settled: [] });
      expect(JSON.parse(w.lines[0]!.replace(/^\S+ /, ''))).toMatchObject({ revoked: null, reenrolment: 'allowed' });
    }
  });

  it('turns each row into a marker: no verdict or evidence, who removed it and when, the previous status, its commits with the removal first', async () => {
    const w = world();
    const before = w.rows.get('test-alpha')!;
    await w.remove();
    const [entry] = [...w.entries.values()];
    const { etag: _etag, evidenceTruncated: _t, ...marker } = w.rows.get('test-alpha')!;
    expect(marker).toStrictEqual({
      server: SERVER,
      ruleId: 'test-alpha',
      ruleVersion: '1.0.0',
      status: REMOVED_STATUS,
      reasonCode: 'Removed',
      severity: 'Warning',
      message: { en: `${SERVER} was removed from the fleet by ${ADMIN}; its results no longer count.`, ja: `${SERVER} は ${ADMIN} によってフリートから削除されました。その結果は集計されません。` },
      remediation: { en: [], ja: [] },
      evidenceJson: '{}',
      firstSeen: NOW,
      previousStatus: 'Warning',
      previousFirstSeen: before.firstSeen,
      snapshotId: S1,
      collectedAt: before.collectedAt,
      lastSeen: before.lastSeen,
      contentHash: '',
      hostHash: '',
      hostSyncedAt: 0,
      eventPending: false,
      indexPending: false,
      syncPending: false,
      changeCause: 'removed',
      rawSlot: 1,
      recentCommits: [
        { id: entry!.commitId, at: NOW },
        { id: 'older-commit', at: NOW - MINUTE },
      ],
      removedBy: ADMIN,
    });
    // The key tag goes: a collector that remembers its row cannot post past the revocation.
    expect(w.rows.get('test-beta')).toMatchObject({ status: REMOVED_STATUS, previousStatus: 'Pass' });
    expect(w.rows.get('test-beta')).not.toHaveProperty('keyTag');
  });

  it('keeps the newest commit ids of the newest row, at most as many as a post keeps', async () => {
    const many = Array.from({ length: RECENT_COMMITS }, (_, i) => ({ id: `c${i}`, at: NOW - (i + 1) * MINUTE }));
    const w = world([row('test-alpha', { recentCommits: [{ id: 'old', at: NOW - 99 * MINUTE }] }), row('test-beta', { snapshotId: S2, collectedAt: NOW - MINUTE, recentCommits: many })]);
    await w.remove();
    const commits = w.rows.get('test-alpha')!.recentCommits!;
    expect(commits).toHaveLength(RECENT_COMMITS);
    expect(commits.slice(1)).toStrictEqual(many.slice(0, RECENT_COMMITS - 1));
  });
});

describe('what a removal owes the fleet-wide tables', () => {
  it('one removal event, no alert or index move, a leave per rule, and the Hosts bookkeeping up to its newest snapshot', async () => {
    const w = world([row('test-alpha', { fingerprint: 'sha256:aa', driftCommitId: 'dc1' }), row('test-beta', { status: 'Pass', snapshotId: S2, collectedAt: NOW - MINUTE, hostSyncedAt: NOW - 5 * MINUTE })]);
    await w.remove();
    const [entry] = [...w.entries.values()];
    const work = w.work();
    expect(work).toMatchObject({ v: 1, server: SERVER, commitId: entry!.commitId, alerts: [], index: [], removal: { upTo: NOW - MINUTE, hostSyncedAt: NOW - 5 * MINUTE } });
    // The proof is sought on the row of the newest snapshot.
    expect(work.proofRule).toBe('test-beta');
    const source = { sourceSnapshotId: S2, sourceCollectedAt: NOW - MINUTE };
    expect(work.indexLeaves).toStrictEqual([
      { leave: true, ruleId: 'test-alpha', server: SERVER, from: 'Warning', ...source },
      { leave: true, ruleId: 'test-beta', server: SERVER, from: 'Pass', ...source },
    ]);
    // Only a rule with configuration facts counted the server in its drift.
    expect(work.driftLeaves).toStrictEqual([{ leave: true, ruleId: 'test-alpha', server: SERVER, from: { fingerprint: 'sha256:aa', status: 'Warning', commitId: 'dc1' }, ...source, sourceCommitId: entry!.commitId }]);
    expect(work.events).toStrictEqual([
      {
        server: SERVER,
        ruleId: '',
        ruleVersion: '',
        fromStatus: 'Reporting',
        toStatus: REMOVED_STATUS,
        reasonCode: 'Removed',
        severity: 'Info',
        message: { en: `${SERVER} was removed from the fleet by ${ADMIN}; its results no longer count.`, ja: `${SERVER} は ${ADMIN} によってフリートから削除されました。その結果は集計されません。` },
        firstSeen: NOW,
        snapshotId: S2,
        recordedAt: NOW,
        cause: 'removed',
        removedBy: ADMIN,
        detail: JSON.stringify({
          removedBy: ADMIN,
          rules: [
            { rule: 'test-alpha', status: 'Warning' },
            { rule: 'test-beta', status: 'Pass' },
          ],
          lastSnapshotId: S2,
        }),
      },
    ]);
  });

  it('names no host refresh when its rows never refreshed the Hosts row', async () => {
    const w = world([row('test-alpha', { hostSyncedAt: 0 })]);
    await w.remove();
    // Hosts has no row of its refresh to take back (the entry's JSON has no such field).
    expect(w.work().removal).toStrictEqual({ upTo: NOW - 2 * MINUTE });
  });

  it('takes only the live rows: a marker a rule kept from an earlier removal stays as it is', async () => {
    const marker = row('test-beta', { status: REMOVED_STATUS, reasonCode: 'Removed', removedBy: 'someone@contoso.com', firstSeen: NOW - 99 * MINUTE });
    const w = world([row('test-alpha'), marker]);
    const r = await w.remove();
    expect(r.rules).toStrictEqual(['test-alpha']);
    expect(w.steps()).toContain('commit test-alpha');
    expect(w.rows.get('test-beta')).toMatchObject({ removedBy: 'someone@contoso.com', firstSeen: NOW - 99 * MINUTE });
    expect(w.work().indexLeaves?.map((l) => l.ruleId)).toStrictEqual(['test-alpha']);
  });
});

describe('a server with nothing to remove', () => {
  it('that never posted: 404 with one sentence pointing at the key route, and nothing revoked or written', async () => {
    const w = world([]);
    expect(await refusalOf(() => w.remove())).toStrictEqual([
      'not_found',
      `No snapshot from server "${SERVER}" has been stored, so there is nothing to remove; a key issued to it is revoked with DELETE /api/servers/${SERVER}/key.`,
    ]);
    expect(w.steps()).toStrictEqual([`read ${SERVER}`]);
  });

  it('that was removed already: 404 saying when and by whom, and nothing revoked or written', async () => {
    const w = world([row('test-alpha', { status: REMOVED_STATUS, firstSeen: NOW - 5 * MINUTE, removedBy: 'someone@contoso.com' })]);
    expect(await refusalOf(() => w.remove())).toStrictEqual(['not_found', `Server "${SERVER}" was already removed at ${iso(NOW - 5 * MINUTE)} by someone@contoso.com; its history stays readable.`]);
    expect(w.steps()).toStrictEqual([`read ${SERVER}`]);
  });

  it('removed by another removal after its keys were revoked: 404, and nothing written', async () => {
    const w = world();
    const read = w.deps.store.readPartition;
    let reads = 0;
    w.deps.store.readPartition = async (server: string) => {
      // The other removal lands between this one's first read and its second.
      if (++reads === 2) w.land({ put: [...w.rows.values()].map((r) => ({ record: { ...r, status: REMOVED_STATUS, firstSeen: NOW - MINUTE, removedBy: 'other@contoso.com' } })), remove: [] });
      return read(server);
    };
    expect(await refusalOf(() => w.remove())).toStrictEqual(['not_found', `Server "${SERVER}" was already removed at ${iso(NOW - MINUTE)} by other@contoso.com; its history stays readable.`]);
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, `revoke ${SERVER}`, `read ${SERVER}`]);
    expect(w.entries.size).toBe(0);
  });
});

describe('a removal racing posts', () => {
  it('a post landing between its read and its commit: the refused entry goes, and the next attempt takes the new rows too', async () => {
    const w = world();
    w.interleaved.push(() => w.land({ put: [{ record: row('test-alpha', { status: 'Error', snapshotId: S2, collectedAt: NOW - MINUTE }) }], remove: [] }));
    const r = await w.remove();
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, `revoke ${SERVER}`, `read ${SERVER}`, 'entry', 'commit test-alpha,test-beta', `read ${SERVER}`, 'drop entry', 'entry', 'commit test-alpha,test-beta', 'committed', 'kick']);
    expect(w.entries.size).toBe(1);
    expect(r.rules).toStrictEqual(['test-alpha', 'test-beta']);
    expect(w.rows.get('test-alpha')).toMatchObject({ status: REMOVED_STATUS, previousStatus: 'Error', snapshotId: S2 });
    expect(w.work().events[0]!.snapshotId).toBe(S2);
  });

  it('an entry that cannot be dropped after a refusal does not stop the next attempt', async () => {
    const w = world();
    w.failures.push(new ConcurrencyConflictError('changed'));
    w.deps.outbox = { ...w.deps.outbox, deleteOne: async () => Promise.reject(new RestError('unavailable', { statusCode: 503 })) };
    await w.remove();
    expect(w.steps().slice(-3)).toStrictEqual(['commit test-alpha,test-beta', 'committed', 'kick']);
    // Both entries are left for the projector, which finds the refused one unproven.
    expect(w.entries.size).toBe(2);
  });

  it('a commit that landed but was answered with a conflict: the removal answers from that commit and keeps its entry', async () => {
    const w = world();
    w.failures.push('landed-then-conflict');
    const r = await w.remove();
    const [entry] = [...w.entries.values()];
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, `revoke ${SERVER}`, `read ${SERVER}`, 'entry', 'commit test-alpha,test-beta', `read ${SERVER}`, 'committed', 'kick']);
    expect(w.calls).toContain(`committed ${entry!.commitId}`);
    expect(w.entries.size).toBe(1);
    expect(r).toMatchObject({ removedAt: iso(NOW), rules: ['test-alpha', 'test-beta'] });
    expect(w.lines).toHaveLength(1);
  });

  it('the answer of the attempt that landed names the rows it took, not those of a later read', async () => {
    const w = world();
    w.failures.push('landed-then-conflict');
    // A rule's row appears after the commit landed (as if posted since): the answer is the commit's.
    const read = w.deps.store.readPartition;
    let reads = 0;
    w.deps.store.readPartition = async (server: string) => {
      if (++reads === 3) w.land({ put: [{ record: row('test-gamma') }], remove: [] });
      return read(server);
    };
    expect((await w.remove()).rules).toStrictEqual(['test-alpha', 'test-beta']);
  });

  it('gives up after eight refused attempts with a conflict, leaving the last entry for the projector', async () => {
    const w = world();
    for (let i = 0; i < 8; i++) w.failures.push(new ConcurrencyConflictError('changed'));
    const error = await w.remove().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcurrencyConflictError);
    expect((error as Error).message).toBe(`Posts of ${SERVER} kept changing its results while it was being removed; try again.`);
    expect(w.steps().filter((s) => s === 'entry')).toHaveLength(8);
    expect(w.steps().filter((s) => s === 'drop entry')).toHaveLength(7);
    expect(w.entries.size).toBe(1);
    expect(w.steps()).not.toContain('kick');
    expect(w.lines).toStrictEqual([]);
    expect(w.rows.get('test-alpha')!.status).toBe('Warning');
  });

  it('succeeds on the eighth attempt', async () => {
    const w = world();
    for (let i = 0; i < 7; i++) w.failures.push(new ConcurrencyConflictError('changed'));
    await w.remove();
    expect(w.rows.get('test-alpha')!.status).toBe(REMOVED_STATUS);
    expect(w.entries.size).toBe(1);
  });
});

describe('storage failing', () => {
  it('a commit lost in an outage: the error goes up, the entry stays for the projector to prove, and the projector is not told', async () => {
    const w = world();
    const outage = new RestError('unavailable', { statusCode: 503 });
    w.failures.push(outage);
    await expect(w.remove()).rejects.toBe(outage);
    expect(w.entries.size).toBe(1);
    expect(w.steps()).not.toContain('committed');
    expect(w.steps()).not.toContain('drop entry');
    expect(w.lines).toStrictEqual([]);
  });

  it('an entry that cannot be written: nothing is committed', async () => {
    const w = world();
    const outage = new RestError('unavailable', { statusCode: 503 });
    w.deps.outbox = { ...w.deps.outbox, put: async () => Promise.reject(outage) };
    await expect(w.remove()).rejects.toBe(outage);
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, `revoke ${SERVER}`, `read ${SERVER}`]);
    expect(w.rows.get('test-alpha')!.status).toBe('Warning');
  });
});
