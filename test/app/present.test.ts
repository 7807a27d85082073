// The JSON shapes the API answers with, without storage: a stored row, a summary, an event and a
// host row as the API shows them. The service tests reach these through HTTP; these pin each field
// (times as ISO text or null, empty stored text as null, audit records without status fields).
import { describe, expect, it } from 'vitest';
import { EVENT_KINDS, eventKindOf, iso, viewOfEvent, viewOfHost, viewOfResult, viewOfStored, viewOfSummary } from '../../src/app/present';
import { RULES } from '../../src/rules/registry';
import type { Rule, RuleResult } from '../../src/rules/types';
import type { EventRecord, HostRecord, StoredResult } from '../../src/store';
import { storedResult } from '../support/stored-results';

const T1 = Date.parse('2026-11-28T09:15:00.250Z');
const T2 = Date.parse('2026-12-01T00:00:00Z');
const rule = RULES.find((r) => r.id === 'mcafee-port25-blocked')!;

const result: RuleResult = {
  ruleId: rule.id,
  ruleVersion: '3',
  title: { en: 'Port 25', ja: 'ポート 25' },
  severity: 'Warning',
  status: 'Warning',
  reasonCode: 'PORT25_BLOCKED',
  message: { en: 'Blocked.', ja: 'ブロック。' },
  remediation: [{ en: 'Allow it.', ja: '許可する。' }],
  references: [{ title: 'KB' }],
  evidence: { rules: 1 },
};

function stored(over: Partial<StoredResult> = {}): StoredResult {
  return storedResult({
    ruleId: rule.id,
    ruleVersion: '3',
    reasonCode: 'PORT25_BLOCKED',
    remediation: { en: ['Allow it.'], ja: ['許可する。'] },
    firstSeen: T1,
    snapshotId: 's1',
    collectedAt: T1,
    lastSeen: T2,
    hostSyncedAt: T2,
    ...over,
  });
}

describe('iso', () => {
  it('writes a time as ISO text; no time (absent or 0, as rows written without it read) as null', () => {
    expect(iso(T1)).toBe('2026-11-28T09:15:00.250Z');
    expect(iso(undefined)).toBeNull();
    expect(iso(0)).toBeNull();
    expect(iso(1)).toBe('1970-01-01T00:00:00.001Z');
  });
});

describe('viewOfResult', () => {
  it('is the result in one language, with no stored fields for a result not stored', () => {
    const v = viewOfResult(result, 'ja');
    expect(v).toStrictEqual({
      ruleId: rule.id,
      ruleVersion: '3',
      title: 'ポート 25',
      severity: 'Warning',
      status: 'Warning',
      reasonCode: 'PORT25_BLOCKED',
      message: 'ブロック。',
      remediation: ['許可する。'],
      references: [{ title: 'KB' }],
      evidence: { rules: 1 },
    });
  });

  it('adds when the status began and the status before it, null for a first status', () => {
    expect(viewOfResult(result, 'en', { firstSeen: T1, previousStatus: 'Pass' })).toMatchObject({ message: 'Blocked.', firstSeen: '2026-11-28T09:15:00.250Z', previousStatus: 'Pass' });
    const first = viewOfResult(result, 'en', { firstSeen: T1 });
    expect(first.previousStatus).toBeNull();
    expect(first.evidence).toEqual({ rules: 1 });
    expect(viewOfResult(result, 'en', { firstSeen: 0 })).toHaveProperty('firstSeen', undefined);
  });
});

describe('viewOfStored', () => {
  it('answers a stored row in the language asked, with the guide link first for a rule that has a guide', () => {
    const v = viewOfStored(stored({ previousStatus: 'Pass' }), 'ja', RULES);
    expect(v).toStrictEqual({
      ruleId: rule.id,
      ruleVersion: '3',
      title: rule.title.ja,
      severity: 'Warning',
      status: 'Warning',
      reasonCode: 'PORT25_BLOCKED',
      message: 'ブロック。',
      remediation: ['許可する。'],
      references: [{ title: 'What PORT25_BLOCKED means and what to do', url: '/api/dashboard/guide-mcafee-port25-blocked.html#port25_blocked' }, ...rule.references],
      evidence: { rules: 1 },
      firstSeen: '2026-11-28T09:15:00.250Z',
      previousStatus: 'Pass',
    });
  });

  it('answers a rule without a guide with its own references, and a rule no longer loaded by its id and no references', () => {
    const plain: Rule = { ...rule, id: 'plain-rule', guide: false, title: { en: 'Plain', ja: 'プレーン' }, references: [{ title: 'Own' }] };
    expect(viewOfStored(stored({ ruleId: 'plain-rule' }), 'en', [plain])).toMatchObject({ title: 'Plain', references: [{ title: 'Own' }] });
    const gone = viewOfStored(stored({ ruleId: 'retired-rule' }), 'en', RULES);
    expect(gone.title).toBe('retired-rule');
    expect(gone.references).toEqual([]);
  });

  it('answers evidence cut short in storage (no longer JSON) as { truncated: true }, and no previous status as null', () => {
    const v = viewOfStored(stored({ evidenceJson: '{"rules":[1,2…[truncated]' }), 'en', RULES);
    expect(v.evidence).toStrictEqual({ truncated: true });
    expect(v.previousStatus).toBeNull();
    expect(viewOfStored(stored({ firstSeen: 0 }), 'en', RULES)).toHaveProperty('firstSeen', undefined);
  });
});

describe('viewOfSummary', () => {
  it('is the listing row in one language, its first status null-previous', () => {
    const s = stored();
    expect(viewOfSummary(s, 'ja')).toStrictEqual({
      server: 'exch1.corp.contoso.com',
      ruleId: rule.id,
      ruleVersion: '3',
      status: 'Warning',
      reasonCode: 'PORT25_BLOCKED',
      severity: 'Warning',
      message: 'ブロック。',
      firstSeen: '2026-11-28T09:15:00.250Z',
      previousStatus: null,
    });
    expect(viewOfSummary(stored({ previousStatus: 'Unknown' }), 'en').previousStatus).toBe('Unknown');
  });
});

const event = (over: Partial<EventRecord> = {}): EventRecord => ({
  server: 'exch1.corp.contoso.com',
  ruleId: rule.id,
  ruleVersion: '3',
  reasonCode: 'PORT25_BLOCKED',
  severity: 'Warning',
  message: { en: 'Blocked.', ja: 'ブロック。' },
  firstSeen: T1,
  snapshotId: 's1',
  fromStatus: 'Pass',
  toStatus: 'Warning',
  recordedAt: T2,
  ...over,
});

describe('eventKindOf', () => {
  it('tells waiver and baseline audit records from status changes by their cause', () => {
    expect(EVENT_KINDS).toEqual(['status', 'waiver', 'baseline']);
    expect(eventKindOf(undefined)).toBe('status');
    expect(eventKindOf('snapshot')).toBe('status');
    expect(eventKindOf('rule-change')).toBe('status');
    expect(eventKindOf('waiver-created')).toBe('waiver');
    expect(eventKindOf('baseline-set')).toBe('baseline');
    // The cause's start decides, not text elsewhere in it.
    expect(eventKindOf('stale-waiver-')).toBe('status');
    expect(eventKindOf('x-baseline-')).toBe('status');
  });
});

describe('viewOfEvent', () => {
  it('answers a status change with its fields, a snapshot cause when none is stored', () => {
    expect(viewOfEvent(event({ previousFirstSeen: T1 - 1000 }), 'ja')).toStrictEqual({
      server: 'exch1.corp.contoso.com',
      kind: 'status',
      ruleId: rule.id,
      ruleVersion: '3',
      fromStatus: 'Pass',
      toStatus: 'Warning',
      reasonCode: 'PORT25_BLOCKED',
      severity: 'Warning',
      message: 'ブロック。',
      firstSeen: '2026-11-28T09:15:00.250Z',
      previousFirstSeen: '2026-11-28T09:14:59.250Z',
      snapshotId: 's1',
      recordedAt: '2026-12-01T00:00:00.000Z',
      cause: 'snapshot',
      waiverId: null,
      removedBy: null,
    });
  });

  it('answers the fields an event does not have, stored empty, as null', () => {
    const v = viewOfEvent(event({ server: '', ruleId: '', ruleVersion: '', reasonCode: '', fromStatus: '', severity: '', cause: 'stale', waiverId: '', removedBy: '' }), 'en');
    expect(v).toMatchObject({ server: null, ruleId: null, ruleVersion: null, reasonCode: null, fromStatus: null, toStatus: 'Warning', severity: null, cause: 'stale', waiverId: null, removedBy: null, previousFirstSeen: null });
    expect(viewOfEvent(event({ fromStatus: undefined }), 'en').fromStatus).toBeNull();
  });

  it('answers an audit record without status fields, whatever it stored there', () => {
    for (const cause of ['waiver-created', 'baseline-set']) {
      const v = viewOfEvent(event({ cause, waiverId: 'w1', removedBy: 'alice' }), 'en');
      expect(v).toMatchObject({ kind: eventKindOf(cause), fromStatus: null, toStatus: null, severity: null, cause, waiverId: 'w1', removedBy: 'alice', ruleId: rule.id });
    }
  });
});

describe('viewOfHost', () => {
  const host: HostRecord = {
    server: 'exch1.corp.contoso.com',
    hostName: 'EXCH1',
    collectorName: 'fleet-posture-collector',
    collectorVersion: '1.4.0',
    firstSeen: T1,
    lastSeen: T2,
    lastSnapshotId: 's1',
    lastCollectedAt: T1,
    hostHash: 'h',
  };

  it('answers every host fact in a column of its own, null where the snapshot had none', () => {
    expect(viewOfHost(host)).toStrictEqual({
      server: 'exch1.corp.contoso.com',
      hostName: 'EXCH1',
      fqdn: null,
      osCaption: null,
      osVersion: null,
      osArchitecture: null,
      utcOffsetMinutes: null,
      collectorName: 'fleet-posture-collector',
      collectorVersion: '1.4.0',
      manifestVersion: null,
      firstSeen: '2026-11-28T09:15:00.250Z',
      lastSeen: '2026-12-01T00:00:00.000Z',
      lastSnapshotId: 's1',
      lastCollectedAt: '2026-11-28T09:15:00.250Z',
    });
    const full = { ...host, fqdn: 'exch1.corp.contoso.com', osCaption: 'Windows Server 2003', osVersion: '5.2.3790', osArchitecture: '32-bit', utcOffsetMinutes: 0, manifestVersion: '7' };
    expect(viewOfHost(full)).toMatchObject({ fqdn: 'exch1.corp.contoso.com', osCaption: 'Windows Server 2003', osVersion: '5.2.3790', osArchitecture: '32-bit', utcOffsetMinutes: 0, manifestVersion: '7' });
    expect(viewOfHost({ ...host, collectorName: '', collectorVersion: '', lastSnapshotId: '' })).toMatchObject({ collectorName: null, collectorVersion: null, lastSnapshotId: null });
  });
});
