// The outbox entry's work, without storage: which status changes owe an alert record, the ids that
// make a rerun write the same records, the commit ids the outbox sorts by, the read-first form of
// an entry projected out of order, and the payload codec (an entry this version cannot read is
// set aside, never thrown on).
import { describe, expect, it } from 'vitest';
import {
  alertOf,
  alertRecordId,
  decodeWork,
  encodeWork,
  hasWork,
  newCommitId,
  readFirstDrift,
  readFirstIndex,
  readingFirst,
  UNDECIDED,
  type ProjectionWork,
} from '../../src/app/projection-work';
import type { DriftLeave, DriftMove, EventRecord, HostRecord, IndexLeave, IndexMove, RawSnapshotRecord, ResultRecord } from '../../src/store';

const T = Date.parse('2026-11-28T09:15:00Z');

const work = (over: Partial<ProjectionWork> = {}): ProjectionWork => ({ v: 1, server: 's.x', commitId: 'c1', proofRule: 'r', events: [], alerts: [], index: [], ...over });

const row = (status: string, previousStatus?: string, changeCause?: string): ResultRecord =>
  ({ server: 's.x', ruleId: 'r', status, previousStatus, reasonCode: 'RC', snapshotId: 'snap', firstSeen: T, changeCause }) as unknown as ResultRecord;

describe('hasWork', () => {
  it('is false for an entry with nothing to project', () => {
    expect(hasWork(work())).toBe(false);
    expect(hasWork(work({ drift: [], indexLeaves: [], driftLeaves: [] }))).toBe(false);
  });

  it('is true for an entry with any one kind of work', () => {
    const one: Partial<ProjectionWork>[] = [
      { events: [{} as EventRecord] },
      { alerts: [alertOf(row('Error'))!] },
      { index: [{} as IndexMove] },
      { drift: [{} as DriftMove] },
      { indexLeaves: [{} as IndexLeave] },
      { driftLeaves: [{} as DriftLeave] },
      { host: { record: {} as HostRecord, now: T, snapshotId: 'snap' } },
      { raw: { record: {} as RawSnapshotRecord, slot: 0 } },
      { staged: { slot: 1 } },
      { removal: { upTo: T } },
    ];
    for (const w of one) expect(hasWork(work(w)), JSON.stringify(w)).toBe(true);
  });
});

describe('alertOf', () => {
  it('alerts on entering Warning or Error, leaving them, moving between them, and entering Unknown', () => {
    expect(UNDECIDED).toBe('Unknown');
    expect(alertOf(row('Warning', 'Pass'))).toStrictEqual({ server: 's.x', ruleId: 'r', status: 'Warning', reasonCode: 'RC', previousStatus: 'Pass', snapshotId: 'snap', firstSeen: T, cause: 'snapshot' });
    expect(alertOf(row('Error'))?.status).toBe('Error');
    expect(alertOf(row('Pass', 'Error'))?.previousStatus).toBe('Error');
    expect(alertOf(row('Pass', 'Warning'))?.status).toBe('Pass');
    expect(alertOf(row('Error', 'Warning'))?.status).toBe('Error');
    expect(alertOf(row('Unknown', 'Pass'))?.status).toBe('Unknown');
    expect(alertOf(row('Warning', 'Pass', 'rule-change'))?.cause).toBe('rule-change');
  });

  it('owes nothing for changes among statuses that are not findings', () => {
    expect(alertOf(row('Pass'))).toBeUndefined();
    expect(alertOf(row('Pass', 'Unknown'))).toBeUndefined();
    expect(alertOf(row('NotApplicable', 'Pass'))).toBeUndefined();
    expect(alertOf(row('Info', 'Pass'))).toBeUndefined();
  });
});

describe('alertRecordId', () => {
  it('is one status change of one (server, rule), whatever else the record says', () => {
    const a = alertOf(row('Warning', 'Pass'))!;
    expect(alertRecordId(a)).toBe(`s.x|r|snap|${T}|Warning`);
    expect(alertRecordId({ ...a, reasonCode: 'OTHER', cause: 'rule-change' } as typeof a)).toBe(alertRecordId(a));
  });
});

describe('newCommitId', () => {
  it('is the time in ten base-36 digits, then a UUID, so ids sort by time', () => {
    const id = newCommitId(T);
    expect(id).toMatch(/^[0-9a-z]{10}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id.slice(0, 10)).toBe(T.toString(36).padStart(10, '0'));
    expect(newCommitId(T + 0.9).slice(0, 10)).toBe(T.toString(36).padStart(10, '0'));
    expect(newCommitId(-5).slice(0, 11)).toBe('0000000000-');
    expect(newCommitId(35).slice(0, 11)).toBe('000000000z-');
    expect(newCommitId(T) < newCommitId(T + 1)).toBe(true);
    expect(newCommitId(T)).not.toBe(newCommitId(T));
  });
});

describe('read-first work', () => {
  const record = { ruleId: 'r', server: 's.x', status: 'Warning' };
  const move = { record, from: 'Pass' } as unknown as IndexMove;
  const leave = { leave: true, ruleId: 'r', server: 's.x', from: 'Pass', sourceSnapshotId: 'snap', sourceCollectedAt: T } as IndexLeave;
  const driftMove = { ruleId: 'r', server: 's.x', from: { key: 'k' } } as unknown as DriftMove;
  const driftLeave = { leave: true, ruleId: 'r', server: 's.x', from: { key: 'k' }, sourceSnapshotId: 'snap', sourceCollectedAt: T } as unknown as DriftLeave;

  it('makes an index move reread where the row is, and a leave forget where it was', () => {
    expect(readFirstIndex(move)).toStrictEqual({ record, reread: true });
    expect(readFirstIndex(leave)).toStrictEqual({ ...leave, from: undefined });
    expect(readFirstDrift(driftMove)).toStrictEqual({ ...driftMove, from: undefined });
  });

  it('turns every index and drift change of an entry into its read-first form, leaving the rest', () => {
    const w = work({ index: [move], indexLeaves: [leave], drift: [driftMove], driftLeaves: [driftLeave], staged: { slot: 1 } });
    expect(readingFirst(w)).toStrictEqual({
      ...w,
      index: [{ record, reread: true }],
      indexLeaves: [{ ...leave, from: undefined }],
      drift: [{ ...driftMove, from: undefined }],
      driftLeaves: [{ ...driftLeave, from: undefined }],
    });
    expect(readingFirst(work())).toStrictEqual({ ...work(), index: [], indexLeaves: undefined, drift: undefined, driftLeaves: undefined });
  });
});

describe('encodeWork / decodeWork', () => {
  it('reads back what it wrote', () => {
    const w = work({ events: [{ server: 's.x' } as EventRecord], staged: { slot: 0 }, removal: { upTo: T, hostSyncedAt: T - 1 } });
    expect(encodeWork(w)).toBe(JSON.stringify(w));
    expect(decodeWork(encodeWork(w))).toStrictEqual(w);
  });

  it.each([
    ['not JSON', '{"v":1,'],
    ['null', 'null'],
    ['another version', JSON.stringify({ ...work(), v: 2 })],
    ['no server', JSON.stringify({ ...work(), server: 1 })],
    ['no commit id', JSON.stringify({ ...work(), commitId: undefined })],
    ['events not a list', JSON.stringify({ ...work(), events: {} })],
    ['alerts not a list', JSON.stringify({ ...work(), alerts: 'x' })],
    ['index not a list', JSON.stringify({ ...work(), index: null })],
  ])('answers undefined for an entry it cannot read: %s', (_, payload) => {
    expect(decodeWork(payload)).toBeUndefined();
  });
});
