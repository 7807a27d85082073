// Records ↔ table entities without a table: every record read back as written (the SDK's own typing
// of DateTime and Int32 applied between), the column names Power BI users see, the defaults a row
// of an older version reads with, and the key ranges that keep one server's rows apart from every
// other's. The service tests write the same rows to Azurite; these reach the mapping in-process.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { cutText, MAX_STRING_CHARS } from '../../src/store/columns';
import {
  bucketHistoryKeys,
  commitMarks,
  COUNTS_RANGE,
  COUNTS_ROW,
  countsRowKey,
  countsToEntity,
  entityToCounts,
  entityToEvent,
  entityToHost,
  entityToIndex,
  entityToRawBody,
  entityToRawMeta,
  entityToResult,
  entityToSummary,
  eventListColumns,
  eventRowKey,
  eventToEntity,
  EVENTS_PARTITION,
  fitEvidence,
  HISTORY_BUCKETS_RANGE,
  historyPartition,
  historyToEntity,
  hostToEntity,
  indexRowKey,
  indexToEntity,
  legacyServerPartition,
  LIVE_RESULTS,
  OLDER_LAYOUT_RANGES,
  OLDER_LAYOUTS_STATE_KEYS,
  parseRawStageKey,
  PARTITION_RULES,
  rawSlotKey,
  rawSlotRange,
  rawStageKey,
  rawToEntity,
  REMOVED_RESULTS,
  removedByInDetail,
  resultKeys,
  resultToEntity,
  SERVER_BUCKETS,
  serverRange,
  SNAPSHOT_BUCKETS_RANGE,
  snapshotPartition,
  stagedRawToEntity,
  stagedToSlotEntity,
  summaryColumns,
} from '../../src/store/entities';
import { encodeKey } from '../../src/store/keys';
import type { EventRecord, HostRecord, IndexRecord, RawSnapshotRecord, ResultRecord } from '../../src/store/records';
import { propertyRuns } from '../support/property-runs';
import { asRead } from '../support/sdk-rows';

const RUNS = { numRuns: propertyRuns(200), seed: 20261206 } as const;
const T = Date.parse('2026-12-06T10:00:00.250Z');

/** A result with every field set, so a round trip shows each one. */
const result = (over: Partial<ResultRecord> = {}): ResultRecord => ({
  server: 'ex01.contoso.com',
  ruleId: 'mcafee-port25-blocked',
  ruleVersion: '1.2.0',
  status: 'Warning',
  reasonCode: 'SmtpNotExcluded',
  severity: 'warning',
  message: { en: 'Port 25 is blocked.', ja: 'ポート 25 がブロックされています。' },
  remediation: { en: ['Exclude the SMTP service.', 'Then restart it.'], ja: ['SMTP サービスを除外します。'] },
  evidenceJson: '{"rule":"Prevent mass mailing worms from sending mail"}',
  firstSeen: T - 5000,
  previousStatus: 'Pass',
  previousFirstSeen: T - 9000,
  snapshotId: 'snap-1',
  collectedAt: T - 1000,
  lastSeen: T,
  contentHash: 'sha256:aa',
  hostHash: 'sha256:bb',
  hostSyncedAt: T - 10,
  eventPending: true,
  indexPending: false,
  syncPending: true,
  changeCause: 'rule-change',
  rawSlot: 1,
  keyTag: 'tag1',
  acceptPending: true,
  recentSnapshotIds: ['snap-1', 'snap-0'],
  fingerprint: 'sha256:ff',
  fingerprintFactsJson: '{"a":1}',
  driftCommitId: 'c9',
  recentCommits: [
    { at: T, id: 'c9' },
    { at: T - 60_000, id: 'c8' },
  ],
  removedBy: 'admin@contoso.com',
  ...over,
});

const event = (over: Partial<EventRecord> = {}): EventRecord => ({
  server: 'ex01.contoso.com',
  ruleId: 'mcafee-port25-blocked',
  ruleVersion: '1.2.0',
  reasonCode: 'SmtpNotExcluded',
  severity: 'warning',
  message: { en: 'Port 25 is blocked.', ja: 'ブロック' },
  firstSeen: T,
  previousFirstSeen: T - 9000,
  snapshotId: 'snap-1',
  fromStatus: 'Pass',
  toStatus: 'Warning',
  recordedAt: T + 5,
  cause: 'waiver-expired',
  waiverId: 'w1',
  removedBy: 'admin',
  detail: '{"why":"x"}',
  ...over,
});

describe('Results rows', () => {
  it('are keyed by the encoded server and rule', () => {
    expect(resultKeys('a|b', 'r/1')).toEqual({ partitionKey: 'a%7Cb', rowKey: 'r%2F1' });
    const e = resultToEntity(result());
    expect([e.partitionKey, e.rowKey]).toEqual(['ex01.contoso.com', 'mcafee-port25-blocked']);
  });

  it('have the flat, typed columns Power BI reads, one message and remediation column per language', () => {
    const e = resultToEntity(result());
    expect(Object.keys(e).sort()).toEqual(
      [
        'partitionKey', 'rowKey', 'Server', 'RuleId', 'RuleVersion', 'ReasonCode', 'Severity', 'MessageEn', 'MessageJa', 'FirstSeen', 'Status',
        'RemediationEnJson', 'RemediationJaJson', 'EvidenceJson', 'EvidenceTruncated', 'EvidenceChars', 'PreviousStatus', 'PreviousFirstSeen',
        'SnapshotId', 'CollectedAt', 'LastSeen', 'ContentHash', 'HostHash', 'HostSyncedAt', 'EventPending', 'IndexPending', 'SyncPending',
        'RawSlot', 'KeyTag', 'AcceptPending', 'DriftCommitId', 'RemovedBy', 'ChangeCause', 'RecentSnapshotIds', 'RecentCommits', 'Fingerprint',
        'FingerprintFactsJson',
      ].sort(),
    );
    expect(e.FirstSeen).toEqual({ value: new Date(T - 5000).toISOString(), type: 'DateTime' });
    expect(e.EvidenceChars).toEqual({ value: result().evidenceJson.length, type: 'Int32' });
    expect(e.RemediationEnJson).toBe('["Exclude the SMTP service.","Then restart it."]');
    expect(e.RecentSnapshotIds).toBe('snap-1 snap-0');
    expect(e.RecentCommits).toBe(`${T}:c9 ${T - 60_000}:c8`);
    expect(e.ChangeCause).toBe('rule-change');
  });

  it('read back as written, with the row ETag', () => {
    const r = result();
    expect(entityToResult(asRead(resultToEntity(r), 'W/"5"'))).toStrictEqual({ ...r, evidenceTruncated: false, partitionRules: undefined, etag: 'W/"5"' });
  });

  it('read back as written for any texts, times and flags', () => {
    const text = fc.string({ maxLength: 20 });
    const time = fc.integer({ min: 0, max: 4_102_444_800_000 });
    fc.assert(
      fc.property(
        fc.record({ server: fc.string({ minLength: 1, maxLength: 30 }), status: text, firstSeen: time, lastSeen: time, eventPending: fc.boolean(), ids: fc.array(fc.stringMatching(/^[a-z0-9-]{1,8}$/), { maxLength: 3 }), en: text, steps: fc.array(text, { maxLength: 3 }) }),
        (v) => {
          const r = result({ server: v.server, status: v.status, firstSeen: v.firstSeen, lastSeen: v.lastSeen, eventPending: v.eventPending, recentSnapshotIds: v.ids, message: { en: v.en, ja: 'x' }, remediation: { en: v.steps, ja: [] } });
          expect(entityToResult(asRead(resultToEntity(r)))).toStrictEqual({ ...r, evidenceTruncated: false, partitionRules: undefined, etag: 'W/"1"' });
        },
      ),
      RUNS,
    );
  });

  it('leave absent fields empty, and read an empty row with the defaults older rows need', () => {
    const bare: ResultRecord = { ...result(), previousStatus: undefined, previousFirstSeen: undefined, changeCause: undefined, rawSlot: undefined, keyTag: undefined, recentSnapshotIds: undefined, recentCommits: undefined, fingerprint: undefined, fingerprintFactsJson: undefined, driftCommitId: undefined, removedBy: undefined, acceptPending: undefined };
    const e = resultToEntity(bare);
    expect([e.PreviousStatus, e.ChangeCause, e.RecentSnapshotIds, e.RecentCommits, e.Fingerprint, e.FingerprintFactsJson]).toEqual(['', 'snapshot', '', '', '', '']);
    expect('PreviousFirstSeen' in e || 'RawSlot' in e).toBe(false);
    const read = entityToResult(asRead(e));
    expect(read).toMatchObject({ changeCause: 'snapshot', recentSnapshotIds: [], recentCommits: [], fingerprint: undefined, previousStatus: undefined, rawSlot: undefined, acceptPending: false });

    const old = entityToResult({ Status: 'Pass', etag: 'e' });
    expect(old.evidenceJson).toBe('{}');
    expect(old.evidenceTruncated).toBe(false);
    expect(old.changeCause).toBe('snapshot');
    expect(old.remediation).toStrictEqual({ en: [], ja: [] });
    expect(old.recentSnapshotIds).toStrictEqual([]);
    expect(old.recentCommits).toStrictEqual([]);
    expect(old.partitionRules).toBeUndefined();
    expect(old.firstSeen).toBe(0);
  });

  it('read the rules a commit left in the partition, and a remediation that is not a JSON list', () => {
    expect(entityToResult({ [PARTITION_RULES]: 'a b', etag: 'e' }).partitionRules).toStrictEqual(['a', 'b']);
    expect(PARTITION_RULES).toBe('PartitionRules');
    const odd = entityToResult({ RemediationEnJson: '{"x":1}', RemediationJaJson: 'Restart it.', etag: 'e' });
    // A list is what was written; anything else is shown as it is rather than lost.
    expect(odd.remediation).toStrictEqual({ en: [], ja: ['Restart it.'] });
    expect(entityToResult({ RemediationEnJson: '[1,"two"]', etag: 'e' }).remediation.en).toStrictEqual(['1', 'two']);
  });

  it('select removal markers apart from results', () => {
    expect(LIVE_RESULTS).toBe("Status ne 'Removed'");
    expect(REMOVED_RESULTS).toBe("Status eq 'Removed'");
  });
});

describe('fitEvidence', () => {
  it('keeps evidence that fits one string column as it is', () => {
    const json = 'x'.repeat(MAX_STRING_CHARS);
    expect(fitEvidence(json)).toStrictEqual({ text: json, truncated: false });
  });

  it('turns larger evidence into a marked preview that fits, however much escaping grows it', () => {
    for (const json of ['y'.repeat(MAX_STRING_CHARS + 1), '"\u0001'.repeat(MAX_STRING_CHARS)]) {
      const fit = fitEvidence(json);
      expect(fit.truncated).toBe(true);
      expect(fit.text.length).toBeLessThanOrEqual(MAX_STRING_CHARS);
      const preview = JSON.parse(fit.text) as { truncated: boolean; originalChars: number; preview: string };
      expect(preview.truncated).toBe(true);
      expect(preview.originalChars).toBe(json.length);
      expect(json.startsWith(preview.preview.replace(/…\[truncated\]$/, ''))).toBe(true);
    }
    // Plain text needs no shrinking: the preview keeps all but the wrapper's room.
    expect((JSON.parse(fitEvidence('y'.repeat(MAX_STRING_CHARS + 1)).text) as { preview: string }).preview.length).toBeGreaterThan(MAX_STRING_CHARS - 250);
  });

  it('keeps a first preview of exactly the column\'s size', () => {
    // Quotes escape to two characters each: find the count whose wrapper is exactly the limit.
    const wrapper = (json: string) => JSON.stringify({ truncated: true, originalChars: json.length, preview: cutText(json, MAX_STRING_CHARS - 200) });
    const json = Array.from({ length: 400 }, (_, quotes) => '"'.repeat(quotes) + 'y'.repeat(MAX_STRING_CHARS)).find((j) => wrapper(j).length === MAX_STRING_CHARS)!;
    expect(json).toBeDefined();
    expect(fitEvidence(json)).toStrictEqual({ text: wrapper(json), truncated: true });
  });

  it('writes the truncation into the row, with the original length', () => {
    const e = resultToEntity(result({ evidenceJson: 'z'.repeat(MAX_STRING_CHARS + 10) }));
    expect(e.EvidenceTruncated).toBe(true);
    expect(e.EvidenceChars).toEqual({ value: MAX_STRING_CHARS + 10, type: 'Int32' });
    expect(entityToResult(asRead(e)).evidenceTruncated).toBe(true);
  });
});

describe('commitMarks', () => {
  it('reads "<at>:<id>" marks separated by spaces, ids that hold colons included', () => {
    expect(commitMarks('5:a 3:b:c')).toStrictEqual([
      { at: 5, id: 'a' },
      { at: 3, id: 'b:c' },
    ]);
  });

  it('passes over damaged marks: no time, no id, no colon, or an empty column', () => {
    expect(commitMarks('')).toStrictEqual([]);
    expect(commitMarks('x:a 7: :b 55 9:ok')).toStrictEqual([{ at: 9, id: 'ok' }]);
    // A mark is its whole piece: text around a well-formed one damages it.
    expect(commitMarks('x5:a 6:b\nc 8:d')).toStrictEqual([{ at: 8, id: 'd' }]);
  });
});

describe('Events and History rows', () => {
  it('are keyed newest first and the same for the same change, so a replay writes one row', () => {
    const e = event();
    expect(eventRowKey(e)).toBe(`${String(9_999_999_999_999 - T).padStart(13, '0')}_ex01.contoso.com_mcafee-port25-blocked_snap-1`);
    expect(eventRowKey(event({ server: 'a_b|c' }))).toContain('_a_b%7Cc_');
    expect(eventRowKey(event({ firstSeen: T + 1 })) < eventRowKey(e)).toBe(true);
    const entity = eventToEntity(e);
    expect([entity.partitionKey, entity.rowKey]).toEqual([EVENTS_PARTITION, eventRowKey(e)]);
    expect(EVENTS_PARTITION).toBe('events');
  });

  it('read back as written, from the Events table and from History alike', () => {
    const e = event();
    expect(entityToEvent(asRead(eventToEntity(e)))).toStrictEqual(e);
    expect(entityToEvent(asRead(historyToEntity(e)))).toStrictEqual(e);
    const first = event({ fromStatus: undefined, previousFirstSeen: undefined, cause: undefined, waiverId: undefined, removedBy: undefined, detail: undefined });
    const written = eventToEntity(first);
    expect([written.FromStatus, written.Cause, written.WaiverId, written.RemovedBy, written.Detail, 'PreviousFirstSeen' in written]).toEqual(['', 'snapshot', '', '', '', false]);
    expect(entityToEvent(asRead(written))).toStrictEqual({ ...first, cause: 'snapshot' });
    // A row written before the Cause column was a snapshot's.
    expect(entityToEvent({ ToStatus: 'Pass' }).cause).toBe('snapshot');
  });

  it('name the event list columns, with the message in the one language shown', () => {
    expect(eventListColumns('ja')).toEqual(['Server', 'RuleId', 'RuleVersion', 'ReasonCode', 'Severity', 'MessageJa', 'FirstSeen', 'FromStatus', 'ToStatus', 'PreviousFirstSeen', 'SnapshotId', 'RecordedAt', 'Cause', 'WaiverId', 'RemovedBy']);
  });

  it('name who removed a server from an older removal event\'s detail, and only a removal\'s', () => {
    const removal = { Cause: 'removed', Detail: JSON.stringify({ removedBy: 'ops@contoso.com' }) };
    expect(removedByInDetail(removal)).toBe('ops@contoso.com');
    expect(entityToEvent({ ...removal, RemovedBy: '' }).removedBy).toBe('ops@contoso.com');
    expect(entityToEvent({ ...removal, RemovedBy: 'new' }).removedBy).toBe('new');
    expect(removedByInDetail({ ...removal, Cause: 'stale' })).toBeUndefined();
    expect(removedByInDetail({ Cause: 'removed', Detail: '{"removedBy":7}' })).toBeUndefined();
    expect(removedByInDetail({ Cause: 'removed', Detail: '{"removedBy":""}' })).toBeUndefined();
    expect(removedByInDetail({ Cause: 'removed', Detail: 'not json' })).toBeUndefined();
    expect(removedByInDetail({ Cause: 'removed' })).toBeUndefined();
  });

  it('go to the server\'s range of its History bucket, newest first within it', () => {
    const h = historyToEntity(event());
    expect(h.partitionKey).toBe(historyPartition('ex01.contoso.com'));
    expect(h.rowKey.startsWith(serverRange('ex01.contoso.com').from)).toBe(true);
    expect(h.rowKey.endsWith(`${String(9_999_999_999_999 - T).padStart(13, '0')}_mcafee-port25-blocked_snap-1`)).toBe(true);
    expect(historyToEntity(event({ firstSeen: T + 1 })).rowKey < h.rowKey).toBe(true);
  });

  it('move an older layout\'s row into its server\'s bucket range, keeping its old RowKey as the rest', () => {
    expect(bucketHistoryKeys(encodeKey('a|b'), '123_r_s')).toEqual({ partitionKey: historyPartition('a|b'), rowKey: 'a%7Cb|123_r_s' });
  });
});

describe('server ranges and buckets', () => {
  it('hold exactly one server\'s rows: no other server\'s key falls in its range', () => {
    expect(serverRange('a|b')).toEqual({ from: 'a%7Cb|', to: 'a%7Cb}' });
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b, rest) => {
        const own = serverRange(a);
        const key = serverRange(b).from + rest;
        expect(key >= own.from && key < own.to).toBe(a === b);
      }),
      RUNS,
    );
  });

  it('put every server in one of 16 History and Snapshots buckets, inside the buckets\' ranges and outside the older layouts\'', () => {
    expect(SERVER_BUCKETS).toBe(16);
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (server) => {
        const [h, s, legacy] = [historyPartition(server), snapshotPartition(server), legacyServerPartition(server)];
        seen.add(h.slice(2));
        expect(h.slice(2)).toBe(s.slice(2));
        expect(h >= HISTORY_BUCKETS_RANGE.from && h < HISTORY_BUCKETS_RANGE.to).toBe(true);
        expect(s >= SNAPSHOT_BUCKETS_RANGE.from && s < SNAPSHOT_BUCKETS_RANGE.to).toBe(true);
        // An older layout's partition (the encoded server) is never a bucket, and its ranges find it.
        expect(legacy).toBe(encodeKey(server));
        expect(legacy >= HISTORY_BUCKETS_RANGE.from && legacy < HISTORY_BUCKETS_RANGE.to).toBe(false);
        expect(legacy >= SNAPSHOT_BUCKETS_RANGE.from && legacy < SNAPSHOT_BUCKETS_RANGE.to).toBe(false);
        const [below, above] = OLDER_LAYOUT_RANGES.history;
        expect(legacy < below.to || legacy >= above.from).toBe(true);
        expect(h < below.to || h >= above.from).toBe(false);
        const [sBelow, sAbove] = OLDER_LAYOUT_RANGES.snapshots;
        expect(legacy < sBelow.to || legacy >= sAbove.from).toBe(true);
        expect(s < sBelow.to || s >= sAbove.from).toBe(false);
      }),
      { ...RUNS, numRuns: propertyRuns(400) },
    );
    expect(seen.size).toBe(16);
    expect(OLDER_LAYOUTS_STATE_KEYS).toEqual({ partitionKey: 'layout', rowKey: 'older-layouts' });
  });
});

describe('RuleIndex rows', () => {
  it('are keyed by rule, then status and server, and read back as written', () => {
    const r: IndexRecord = { server: 'ex01', ruleId: 'r/1', ruleVersion: '1', status: 'Error', reasonCode: 'X', severity: 'error', message: { en: 'm', ja: 'n' }, firstSeen: T, previousStatus: 'Pass', sourceSnapshotId: 's1', sourceCollectedAt: T - 1 };
    const e = indexToEntity(r);
    expect([e.partitionKey, e.rowKey]).toEqual(['r%2F1', 'Error|ex01']);
    expect(indexRowKey('a|b', 'c|d')).toBe('a%7Cb|c%7Cd');
    expect(entityToIndex(asRead(e))).toStrictEqual(r);
    expect(entityToIndex(asRead(indexToEntity({ ...r, previousStatus: undefined }))).previousStatus).toBeUndefined();
    expect(entityToIndex({}).sourceCollectedAt).toBe(0);
  });

  it('give the summary columns in one language, and a summary from a Results or index row alike', () => {
    expect(summaryColumns('en')).toEqual(['Server', 'RuleId', 'RuleVersion', 'ReasonCode', 'Severity', 'MessageEn', 'FirstSeen', 'Status', 'PreviousStatus']);
    const fromResult = entityToSummary(asRead(resultToEntity(result())));
    const r = result();
    expect(fromResult).toStrictEqual({ server: r.server, ruleId: r.ruleId, ruleVersion: r.ruleVersion, reasonCode: r.reasonCode, severity: r.severity, message: r.message, firstSeen: r.firstSeen, status: r.status, previousStatus: r.previousStatus });
  });

  it('keep the counters in rows beside the index rows, which no index row falls among', () => {
    expect(COUNTS_ROW).toBe('~counts');
    expect(countsRowKey('7')).toBe('~counts|7');
    for (const k of [COUNTS_ROW, countsRowKey('0'), countsRowKey('f')]) expect(k >= COUNTS_RANGE.from && k < COUNTS_RANGE.to).toBe(true);
    for (const status of ['Pass', 'Warning', 'Error', 'NotApplicable', 'Unknown']) {
      const k = indexRowKey(status, 'zzz');
      expect(k >= COUNTS_RANGE.from && k < COUNTS_RANGE.to).toBe(false);
    }
    const counts = new Map([
      ['Pass', 3],
      ['Warning', 0],
    ]);
    const e = countsToEntity('r/1', counts, countsRowKey('2'));
    expect(e).toEqual({ partitionKey: 'r%2F1', rowKey: '~counts|2', RuleId: 'r/1', Pass: { value: 3, type: 'Int32' }, Warning: { value: 0, type: 'Int32' } });
    expect(countsToEntity('r', new Map()).rowKey).toBe(COUNTS_ROW);
    expect([...entityToCounts(asRead(e), ['Pass', 'Warning', 'Error'])]).toEqual([
      ['Pass', 3],
      ['Warning', 0],
      ['Error', 0],
    ]);
  });
});

describe('Hosts rows', () => {
  it('read back as written, optional facts absent or present', () => {
    const full: HostRecord = { server: 'ex01', hostName: 'EX01', fqdn: 'ex01.contoso.com', osCaption: 'Windows Server 2019', osVersion: '10.0.17763', osArchitecture: '64-bit', utcOffsetMinutes: -300, collectorName: 'fleet-posture', collectorVersion: '1.4.0', manifestVersion: '3', firstSeen: T - 9, lastSeen: T, lastSnapshotId: 's', lastCollectedAt: T - 1, hostHash: 'h' };
    const e = hostToEntity(full, 'p7');
    expect([e.partitionKey, e.rowKey, e.UtcOffsetMinutes]).toEqual(['p7', 'ex01', { value: -300, type: 'Int32' }]);
    expect(entityToHost(asRead(e))).toStrictEqual(full);
    const bare: HostRecord = { ...full, fqdn: undefined, osCaption: undefined, osVersion: undefined, osArchitecture: undefined, utcOffsetMinutes: undefined, manifestVersion: undefined };
    expect(entityToHost(asRead(hostToEntity(bare, 'p7')))).toStrictEqual(bare);
  });
});

describe('Snapshots rows', () => {
  const raw = (body: string, over: Partial<RawSnapshotRecord> = {}): RawSnapshotRecord => ({ server: 'ex01', snapshotId: 's1', collectedAt: T - 1, receivedAt: T, contentHash: 'sha256:c', body, ...over });

  it('keep the body gzipped in a slot row and read it back, with its facts', () => {
    const r = raw('{"snapshot":"ü"}');
    const e = rawToEntity(r, 1);
    expect([e.partitionKey, e.rowKey]).toEqual([snapshotPartition('ex01'), 'ex01|slot1']);
    expect(e.RawBytes).toEqual({ value: Buffer.byteLength(r.body), type: 'Int32' });
    expect(e.RawChunks).toEqual({ value: 1, type: 'Int32' });
    const read = asRead(e);
    expect(entityToRawMeta(read)).toStrictEqual({ server: 'ex01', snapshotId: 's1', collectedAt: T - 1, receivedAt: T, contentHash: 'sha256:c', rawBytes: Buffer.byteLength(r.body), rawStored: true });
    expect(entityToRawBody(read)).toBe(r.body);
  });

  it('split a large body over 60 KiB binary columns, and keep none past twelve', () => {
    const large = randomBytes(100 * 1024).toString('base64');
    const e = rawToEntity(raw(large), 0);
    const chunks = (e.RawChunks as { value: number }).value;
    expect(chunks).toBeGreaterThan(1);
    expect((e.RawGzip00 as Uint8Array).byteLength).toBe(60 * 1024);
    expect(Object.keys(e).filter((k) => k.startsWith('RawGzip'))).toHaveLength(chunks);
    expect(entityToRawBody(asRead(e))).toBe(large);

    const huge = randomBytes(760 * 1024).toString('base64');
    const none = rawToEntity(raw(huge), 0);
    expect([none.RawStored, none.RawChunks, Object.keys(none).some((k) => k.startsWith('RawGzip'))]).toEqual([false, { value: 0, type: 'Int32' }, false]);
    expect(none.RawBytes).toEqual({ value: huge.length, type: 'Int32' });
    expect(entityToRawBody(asRead(none))).toBeUndefined();
  });

  it('store a body that fills exactly twelve chunks', () => {
    // The longest prefix of incompressible text whose gzip still fits twelve chunks.
    const text = randomBytes(800 * 1024).toString('base64');
    const chunks = (n: number) => Math.ceil(gzipSync(Buffer.from(text.slice(0, n))).length / (60 * 1024));
    let [lo, hi] = [0, text.length];
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (chunks(mid) <= 12) lo = mid;
      else hi = mid - 1;
    }
    expect(chunks(lo)).toBe(12);
    const e = rawToEntity(raw(text.slice(0, lo)), 0);
    expect([e.RawStored, e.RawChunks]).toEqual([true, { value: 12, type: 'Int32' }]);
    expect(entityToRawBody(asRead(e))).toBe(text.slice(0, lo));
    expect(rawToEntity(raw(text.slice(0, lo + 1)), 0).RawStored).toBe(false);
  });

  it('read no body from a row that lost a chunk or never stored one', () => {
    const e = asRead(rawToEntity(raw(randomBytes(100 * 1024).toString('base64')), 0));
    delete e.RawGzip01;
    expect(entityToRawBody(e)).toBeUndefined();
    expect(entityToRawBody({ RawStored: true })).toBeUndefined();
    expect(entityToRawBody({ RawStored: false, RawChunks: 1, RawGzip00: new Uint8Array([1]) })).toBeUndefined();
  });

  it('stage a body under its commit attempt, then copy it into the slot as the slot row would be written', () => {
    const r = raw(randomBytes(80 * 1024).toString('base64'));
    const staged = stagedRawToEntity(r, 'c|1', 2);
    expect(staged.rowKey).toBe(rawStageKey('ex01', 'c|1'));
    expect([staged.CommitId, staged.StagedSlot]).toEqual(['c|1', { value: 2, type: 'Int32' }]);
    expect(parseRawStageKey(staged.rowKey)).toEqual({ server: 'ex01', commitId: 'c|1' });
    const slot = stagedToSlotEntity(asRead(staged), 'ex01', 1);
    expect(slot).toEqual(rawToEntity(r, 1));
    expect(entityToRawBody(asRead(slot))).toBe(r.body);
  });

  it('copy a staged row that stored no body as a slot row without one, and refuse one missing a chunk', () => {
    const none = stagedToSlotEntity(asRead(stagedRawToEntity(raw(randomBytes(1200 * 1024).toString('base64')), 'c', 0)), 'ex01', 0);
    expect([none.RawStored, none.RawChunks]).toEqual([false, { value: 0, type: 'Int32' }]);
    const lost = asRead(stagedRawToEntity(raw(randomBytes(80 * 1024).toString('base64')), 'c', 0));
    delete lost.RawGzip01;
    expect(() => stagedToSlotEntity(lost, 'ex01', 0)).toThrow(`The staged raw snapshot ${rawStageKey('ex01', 'c')} lacks RawGzip01.`);
  });

  it('name slot rows so a slot range holds them and no staging row', () => {
    expect([0, 1, 2, 3, 4, undefined as unknown as number].map(rawSlotKey)).toEqual(['slot0', 'slot1', 'slot2', 'slot3', 'slot0', 'slot0']);
    const range = rawSlotRange('ex01');
    expect(range).toEqual({ from: 'ex01|slot', to: 'ex01|slot~' });
    for (const slot of [0, 1, 2, 3]) {
      const k = rawToEntity(raw('{}'), slot).rowKey;
      expect(k >= range.from && k < range.to).toBe(true);
    }
    const stage = rawStageKey('ex01', 'slot9');
    expect(stage >= range.from && stage < range.to).toBe(false);
  });

  it('tell a staging key from any other', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (server, commitId) => {
        expect(parseRawStageKey(rawStageKey(server, commitId))).toEqual({ server, commitId });
        expect(parseRawStageKey(serverRange(server).from + rawSlotKey(1))).toBeUndefined();
      }),
      RUNS,
    );
    expect(parseRawStageKey('a|stage|b|c')).toBeUndefined();
    expect(parseRawStageKey('a|stages|b')).toBeUndefined();
    expect(parseRawStageKey('a|stage')).toBeUndefined();
  });
});
