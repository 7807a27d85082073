// Snapshot documents for service tests, and a tiny rule set whose verdicts the test controls.
import { createHash, randomUUID } from 'node:crypto';
import type { Rule, Status } from '../../src/rules/types';
import type { NormalisedSnapshot } from '../../src/snapshot/normalise';

export interface SnapshotOptions {
  readonly host?: string;
  readonly fqdn?: string | null;
  readonly snapshotId?: string;
  /** ISO time or epoch ms. */
  readonly collectedAt?: string | number;
  /** Drives the test rules: the state of the "PostureTest" service. */
  readonly testState?: string;
  /** Extra text in a file tail (to make the snapshot big or change its content). */
  readonly tail?: string;
  readonly collectorVersion?: string;
}

export function snapshot(o: SnapshotOptions = {}): Record<string, unknown> {
  const host = o.host ?? 'EXCH01';
  const collectedAt = o.collectedAt === undefined ? new Date(Date.now() - 60_000).toISOString() : new Date(o.collectedAt).toISOString();
  return {
    schema: 'fleet-posture/snapshot@1',
    snapshotId: o.snapshotId ?? randomUUID(),
    collectedAt,
    collector: { name: 'Send-PostureSnapshot', version: o.collectorVersion ?? '1.0.0' },
    host: {
      name: host,
      ...(o.fqdn === null ? {} : { fqdn: o.fqdn ?? `${host.toLowerCase()}.corp.contoso.com` }),
      os: { caption: 'Microsoft Windows Server 2003 R2 Enterprise Edition', version: '5.2.3790', architecture: '32-bit' },
      utcOffsetMinutes: 540,
    },
    registry: [
      {
        path: 'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion',
        view: '32',
        exists: true,
        values: [{ name: 'szProductVer', type: 'REG_SZ', data: '8.0.0.912' }],
      },
    ],
    services: [
      { name: 'SMTPSVC', state: 'Running', started: true },
      ...(o.testState ? [{ name: 'PostureTest', state: o.testState, started: true }] : []),
    ],
    files: o.tail === undefined ? [] : [{ path: 'C:\\logs\\test.txt', exists: true, size: o.tail.length, tail: o.tail }],
  };
}

/**
 * Test rules: "test-alpha" answers the status named by the PostureTest service's state (Pass when
 * absent); "test-beta" always passes and can carry large evidence from the file tail.
 */
export const alphaRule: Rule = {
  id: 'test-alpha',
  version: '1.0.0',
  title: { en: 'Test alpha', ja: 'テスト アルファ' },
  rationale: { en: 'Drives status changes in tests.', ja: 'テスト用。' },
  severity: 'Warning',
  references: [],
  reasonCodes: { FromState: 'Pass' },
  needs: { registry: [], services: ['PostureTest'], files: [] },
  evaluate(s: NormalisedSnapshot) {
    const state = s.services.get('posturetest')?.state ?? 'Pass';
    const status = (['Pass', 'Warning', 'Error', 'NotApplicable', 'Unknown'].includes(state) ? state : 'Unknown') as Status;
    return {
      status,
      reasonCode: `State${status}`,
      message: { en: `alpha is ${status}`, ja: `アルファは ${status}` },
      remediation: status === 'Pass' ? [] : [{ en: 'Fix alpha.', ja: 'アルファを直す。' }],
      evidence: { state },
    };
  },
};

export const betaRule: Rule = {
  id: 'test-beta',
  version: '1.0.0',
  title: { en: 'Test beta', ja: 'テスト ベータ' },
  rationale: { en: 'Carries evidence.', ja: '証拠。' },
  severity: 'Info',
  references: [{ title: 'example', url: 'https://example.invalid/beta' }],
  reasonCodes: { Ok: 'Pass' },
  needs: { registry: [], services: [], files: [{ path: 'C:\\logs\\test.txt', tailBytes: 1024 }] },
  evaluate(s: NormalisedSnapshot) {
    return {
      status: 'Pass',
      reasonCode: 'Ok',
      message: { en: 'beta ok', ja: 'ベータ OK' },
      remediation: [],
      evidence: { tail: s.files[0]?.tail ?? null },
    };
  },
};

export const TEST_RULES: readonly Rule[] = [alphaRule, betaRule];

/** Alpha at a new version whose logic judges what version 1 called a Warning an Error (re-evaluation tests). */
export const alphaRuleV2: Rule = {
  ...alphaRule,
  version: '2.0.0',
  evaluate(s) {
    const o = alphaRule.evaluate(s);
    return o.status === 'Warning' ? { ...o, status: 'Error' } : o;
  },
};

/** A snapshot id (a UUID, as the contract wants) named for a test: the same name, the same id. */
export const namedSnapshotId = (name: string): string => {
  const hex = createHash('sha256').update(name).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
};

/** Alpha with configuration facts (the file tail), so its results carry a fingerprint and move in the drift. */
export const factsRule: Rule = { ...alphaRule, configurationFacts: (n: NormalisedSnapshot) => ({ tail: n.files[0]?.tail ?? '' }) };

/** A rule whose verdict follows the collection time alone (Warning in odd minutes): status moves on unchanged content. */
export const clockRule: Rule = {
  ...alphaRule,
  id: 'test-clock',
  evaluate: (n: NormalisedSnapshot) => {
    const status = Math.floor(n.collectedAt / 60_000) % 2 === 1 ? 'Warning' : 'Pass';
    return { status, reasonCode: 'FromState', message: { en: status, ja: status }, remediation: [], evidence: {} };
  },
};
