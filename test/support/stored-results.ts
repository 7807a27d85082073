// A Results row as the store reads it back, for the use-case unit tests that hand rows to the code
// without storage: a Warning of the port 25 rule on exch1, settled (nothing owed), with the times a
// test asserts on given as RESULT_TIMES. A test overrides what its assertions depend on.
import type { StoredResult } from '../../src/store';

export const RESULT_TIMES = {
  firstSeen: Date.parse('2026-12-06T09:00:00.000Z'),
  collectedAt: Date.parse('2026-12-06T11:59:00.000Z'),
  lastSeen: Date.parse('2026-12-06T12:00:00.000Z'),
} as const;

export function storedResult(over: Partial<StoredResult> = {}): StoredResult {
  return {
    server: 'exch1.corp.contoso.com',
    ruleId: 'mcafee-port25-blocked',
    ruleVersion: '1.0.0',
    status: 'Warning',
    reasonCode: 'SmtpNotExcluded',
    severity: 'Warning',
    message: { en: 'Blocked.', ja: 'ブロック。' },
    remediation: { en: ['Exclude it.'], ja: ['除外する。'] },
    evidenceJson: '{"rules":1}',
    ...RESULT_TIMES,
    snapshotId: '3b1f6c2e-5d4a-4c8b-9e7f-0a1b2c3d4e5f',
    contentHash: 'c',
    hostHash: 'h',
    hostSyncedAt: RESULT_TIMES.lastSeen,
    eventPending: false,
    indexPending: false,
    syncPending: false,
    etag: 'e',
    evidenceTruncated: false,
    ...over,
  } as StoredResult;
}
