// Where the sweep puts a staged body whose outbox entry is gone, pure: from the server's Results
// rows (its newest commit's content, slot, remembered snapshots and commits) and the content of the
// slot it would go to; and the sweep itself over staging rows held in memory. The service test
// (test/service/staged-raw-sweep.test.ts) runs it on Azurite.
import { describe, expect, it } from 'vitest';
import { PROJECTOR_GRACE_MS } from '../../src/app/projector';
import { slotForStaged, slotWants, StagedRawSweep, type StagedRawSweepDeps } from '../../src/app/staged-raw-sweep';
import type { RawHead, RawSnapshotMeta, StagedRawKey, StagedRawMeta } from '../../src/store';

const meta = (over: Partial<StagedRawMeta> = {}): StagedRawMeta => ({
  server: 'exch01.corp.contoso.com',
  snapshotId: 's2',
  collectedAt: 2000,
  receivedAt: 2001,
  contentHash: 'sha256:two',
  rawBytes: 900_000,
  rawStored: true,
  commitId: 'c2',
  slot: 1,
  ...over,
});

const head = (over: Partial<RawHead> = {}): RawHead => ({
  snapshotId: 's2',
  collectedAt: 2000,
  contentHash: 'sha256:two',
  rawSlot: 1,
  recentCommits: [
    { id: 'c2', at: 2001 },
    { id: 'c1', at: 1001 },
  ],
  ...over,
});

describe('the slot of a staged body whose entry is gone', () => {
  it('is the slot the rows name when the body is the current content, with or without the slot on the staging row', () => {
    expect(slotForStaged(meta(), head())).toBe(1);
    expect(slotForStaged(meta({ slot: undefined }), head())).toBe(1);
    // A later snapshot of the same content wrote no body: the staged one is still the content's.
    expect(slotForStaged(meta({ slot: undefined }), head({ snapshotId: 's3', collectedAt: 3000, recentCommits: [{ id: 'c3', at: 3001 }] }))).toBe(1);
    // Rows of an older version name no slot: slot 0.
    expect(slotForStaged(meta({ slot: 0 }), head({ rawSlot: undefined }))).toBe(0);
  });

  it('is none for an attempt the rows never accepted that is newer than theirs, for a server without rows, and for the slots older requests wrote', () => {
    expect(slotForStaged(meta({ snapshotId: 's9', collectedAt: 9000, commitId: 'c9' }), head())).toBeUndefined();
    expect(slotForStaged(meta(), undefined)).toBeUndefined();
    expect(slotForStaged(meta(), head({ rawSlot: 2 }))).toBeUndefined();
  });

  it('is its own slot for superseded content whose commit landed, only when the row names a slot other than the current one', () => {
    const superseded = { contentHash: 'sha256:three', snapshotId: 's3', collectedAt: 3000, rawSlot: 0, recentCommits: [{ id: 'c3', at: 3001 }, { id: 'c2', at: 2001 }] };
    expect(slotForStaged(meta(), head(superseded))).toBe(1);
    expect(slotForStaged(meta({ slot: undefined }), head(superseded))).toBeUndefined();
    expect(slotForStaged(meta({ slot: 0 }), head(superseded))).toBeUndefined();
    // A refused attempt (its commit not among the rows' commits) belongs nowhere.
    expect(slotForStaged(meta({ commitId: 'c-refused' }), head(superseded))).toBeUndefined();
  });

  it('takes the body only into a slot that lacks its content and holds nothing newer', () => {
    const staged = meta();
    expect(slotWants(staged, undefined)).toBe(true);
    expect(slotWants(staged, { ...staged, contentHash: 'sha256:one', snapshotId: 's1', collectedAt: 1000 })).toBe(true);
    expect(slotWants(staged, { ...staged, snapshotId: 's0', collectedAt: 500 })).toBe(false);
    expect(slotWants(staged, { ...staged, contentHash: 'sha256:three', snapshotId: 's3', collectedAt: 3000 })).toBe(false);
    // The same time: the snapshot id decides, as the readers decide.
    expect(slotWants(staged, { ...staged, contentHash: 'sha256:x', snapshotId: 's1' })).toBe(true);
    expect(slotWants(staged, { ...staged, contentHash: 'sha256:x', snapshotId: 's3' })).toBe(false);
  });
});

const NOW = 10_000_000;
const SERVER = 'exch01.corp.contoso.com';
const key = (commitId: string, age = PROJECTOR_GRACE_MS, server = SERVER): StagedRawKey => ({ server, commitId, stagedAt: NOW - age });

interface SweepWorld {
  keys: StagedRawKey[];
  /** Commit ids whose outbox entry is still there. */
  entries?: string[];
  metas?: Record<string, StagedRawMeta>;
  head?: RawHead;
  slots?: Record<number, RawSnapshotMeta>;
  /** What a copy answers, by commit id ('copied' when left out). */
  copies?: Record<string, 'copied' | 'conflict' | 'gone'>;
  graceMs?: number;
}

/** The sweep over staging rows held in memory; `calls` names every store call, `lines` every line logged. */
function sweep(world: SweepWorld) {
  const calls: string[] = [];
  const lines: string[] = [];
  const deps = {
    clock: () => NOW,
    ...(world.graceMs === undefined ? {} : { graceMs: world.graceMs }),
    outbox: { has: async (_server: string, commitId: string) => (calls.push(`has ${commitId}`), world.entries?.includes(commitId) ?? false) },
    staged: {
      listStaged: async () => world.keys,
      readHead: async (server: string) => (calls.push(`head ${server}`), world.head),
      readStagedMeta: async (_server: string, commitId: string) => world.metas?.[commitId],
      readSlot: async (_server: string, slot: number) => (calls.push(`slot ${slot}`), world.slots?.[slot] && { meta: world.slots[slot], etag: `e${slot}` }),
      copyIfUnchanged: async (_server: string, commitId: string, slot: number, etag: string | undefined) => (calls.push(`copy ${commitId} to ${slot} if ${etag}`), world.copies?.[commitId] ?? 'copied'),
      deleteStagedRaw: async (rows: { commitId: string }[]) => void calls.push(`delete ${rows.map((r) => r.commitId).join()}`),
    },
  } as unknown as StagedRawSweepDeps;
  return { run: () => new StagedRawSweep(deps).run({ log: (l: string) => void lines.push(l) }), calls, lines };
}

describe('the sweep', () => {
  it('leaves rows younger than the grace and rows whose entry still waits, and copies an orphan into its empty slot', async () => {
    const { run, calls, lines } = sweep({ keys: [key('young', PROJECTOR_GRACE_MS - 1), key('queued'), key('c2')], entries: ['queued'], metas: { c2: meta() }, head: head() });
    expect(await run()).toStrictEqual({ staged: 3, waiting: 2, copied: 1, removed: 1, retried: 0 });
    expect(calls).toStrictEqual(['has queued', 'has c2', `head ${SERVER}`, 'slot 1', 'copy c2 to 1 if undefined', 'delete c2']);
    expect(lines).toStrictEqual([
      `staged raw sweep: ${SERVER}'s raw snapshot s2 copied from its staging row into slot 1 (its outbox entry went without it).`,
      'staged raw sweep: 1 staged raw bodies copied into their slots, 1 staging rows without an outbox entry removed, 0 left for the next run.',
    ]);
  });

  it('takes the grace it is given, a row exactly that old included', async () => {
    const { run, calls } = sweep({ keys: [key('c2', 1000), key('c3', 999)], graceMs: 1000, entries: ['c2'] });
    expect(await run()).toMatchObject({ staged: 2, waiting: 2 });
    expect(calls).toStrictEqual(['has c2']);
  });

  it('replaces a slot only under the ETag it read, and leaves the row for the next run when the slot changed meanwhile', async () => {
    const older = { ...meta(), snapshotId: 's1', collectedAt: 1000, contentHash: 'sha256:one' };
    const { run, calls, lines } = sweep({ keys: [key('c2')], metas: { c2: meta() }, head: head(), slots: { 1: older }, copies: { c2: 'conflict' } });
    expect(await run()).toStrictEqual({ staged: 1, waiting: 0, copied: 0, removed: 0, retried: 1 });
    expect(calls).toStrictEqual(['has c2', `head ${SERVER}`, 'slot 1', 'copy c2 to 1 if e1']);
    expect(lines).toStrictEqual(['staged raw sweep: 0 staged raw bodies copied into their slots, 0 staging rows without an outbox entry removed, 1 left for the next run.']);
  });

  it('removes without copying a row whose slot holds its content already, one whose body went meanwhile, and one that belongs in no slot', async () => {
    for (const [world, steps] of [
      [{ slots: { 1: meta() } }, ['slot 1', 'delete c2']],
      [{ copies: { c2: 'gone' as const } }, ['slot 1', 'copy c2 to 1 if undefined', 'delete c2']],
      [{ head: undefined }, ['delete c2']],
    ] as const) {
      const { run, calls, lines } = sweep({ keys: [key('c2')], metas: { c2: meta() }, head: head(), ...world });
      expect(await run()).toStrictEqual({ staged: 1, waiting: 0, copied: 0, removed: 1, retried: 0 });
      expect(calls.slice(2)).toStrictEqual(steps);
      expect(lines).toHaveLength(1);
    }
  });

  it('skips a row that went before its content was read, and logs nothing when it did nothing', async () => {
    const { run, calls, lines } = sweep({ keys: [key('c9')], head: head() });
    expect(await run()).toStrictEqual({ staged: 1, waiting: 0, copied: 0, removed: 0, retried: 0 });
    expect(calls).toStrictEqual(['has c9', `head ${SERVER}`]);
    expect(lines).toStrictEqual([]);
  });

  it('weighs a server newest body first, so an older one does not take the slot the newer one belongs in', async () => {
    const newer = meta({ commitId: 'c3', snapshotId: 's3', collectedAt: 3000, contentHash: 'sha256:three', slot: 0 });
    const older = meta({ commitId: 'c2' });
    const { run, calls } = sweep({
      keys: [key('c2'), key('c3')],
      metas: { c2: older, c3: newer },
      head: head({ snapshotId: 's3', collectedAt: 3000, contentHash: 'sha256:three', rawSlot: 0, recentCommits: [{ id: 'c3', at: 3001 }, { id: 'c2', at: 2001 }] }),
    });
    await run();
    expect(calls.filter((c) => c.startsWith('copy') || c.startsWith('delete'))).toStrictEqual(['copy c3 to 0 if undefined', 'delete c3', 'copy c2 to 1 if undefined', 'delete c2']);
  });

  it('reads each server head once for all its rows, and every server apart', async () => {
    const other = 'exch02.corp.contoso.com';
    const { run, calls } = sweep({ keys: [key('c2'), key('c4', PROJECTOR_GRACE_MS, other), key('c5')], head: head() });
    await run();
    expect(calls.filter((c) => c.startsWith('head')).sort()).toStrictEqual([`head ${SERVER}`, `head ${other}`]);
  });
});
