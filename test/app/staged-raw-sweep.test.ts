// Where the sweep puts a staged body whose outbox entry is gone, pure: from the server's Results
// rows (its newest commit's content, slot, remembered snapshots and commits) and the content of the
// slot it would go to. The service test (test/service/staged-raw-sweep.test.ts) runs it on Azurite.
import { describe, expect, it } from 'vitest';
import { slotForStaged, slotWants } from '../../src/app/staged-raw-sweep';
import type { RawHead, StagedRawMeta } from '../../src/store';

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
