// The plain reads without storage: the stores are fakes that record every call and answer what the
// test gives them, so each read is checked for what it asks the store and what it makes of the
// answer. The service tests run the same reads over HTTP and Azurite.
import { describe, expect, it } from 'vitest';
import { isoInstant as iso } from '../../src/app/iso-time';
import { Queries, type QueryDeps } from '../../src/app/queries';
import { buildManifest } from '../../src/rules/manifest';
import { ruleSetVersion } from '../../src/rules/registry';
import type { EventRecord, HostRecord, RawSnapshotMeta, ResultSummary, StoredResult } from '../../src/store';
import { alphaRule, betaRule } from '../support/snapshots';
import { RESULT_TIMES, storedResult } from '../support/stored-results';

const NOW = Date.parse('2026-12-06T12:30:00.000Z');
const SERVER = 'exch1.corp.contoso.com';
const RULES = [alphaRule, betaRule];

interface Answers {
  rows?: StoredResult[];
  host?: HostRecord;
  raw?: RawSnapshotMeta;
  counts?: Map<string, Map<string, number>>;
  waiting?: boolean;
  results?: { items: ResultSummary[]; continuationToken?: string };
  events?: { items: EventRecord[]; continuationToken?: string };
}

function queries(answers: Answers = {}) {
  const calls: unknown[][] = [];
  const deps = {
    rules: RULES,
    clock: () => NOW,
    store: {
      listResults: async (...args: unknown[]) => (calls.push(['listResults', ...args]), answers.results ?? { items: [] }),
      readServer: async (server: string) => (calls.push(['readServer', server]), answers.rows ?? []),
    },
    events: { listEvents: async (...args: unknown[]) => (calls.push(['listEvents', ...args]), answers.events ?? { items: [] }) },
    hosts: { getHost: async (server: string) => (calls.push(['getHost', server]), answers.host) },
    rawSnapshots: { getLatestRaw: async (server: string, ...rest: unknown[]) => (calls.push(['getLatestRaw', server, ...rest]), answers.raw) },
    outbox: { changesWaiting: async () => (calls.push(['changesWaiting']), answers.waiting ?? false) },
    ruleIndex: { getRuleCounts: async (ids: readonly string[]) => (calls.push(['getRuleCounts', [...ids]]), answers.counts ?? new Map()) },
  };
  return { q: new Queries(deps as unknown as QueryDeps), calls };
}

const summaryRow = (over: Partial<ResultSummary> = {}): ResultSummary => ({
  server: SERVER,
  ruleId: alphaRule.id,
  ruleVersion: '1.0.0',
  status: 'Warning',
  reasonCode: 'StateWarning',
  severity: 'Warning',
  message: { en: 'alpha is Warning', ja: 'アルファは Warning' },
  firstSeen: RESULT_TIMES.firstSeen,
  ...over,
});

describe('the manifest and the rule catalogue', () => {
  it('answers the manifest of the loaded rules, built once', () => {
    const { q } = queries();
    expect(q.manifest()).toStrictEqual(buildManifest(RULES));
    expect(q.manifest().services).toStrictEqual(['PostureTest']);
    expect(q.manifest()).toBe(q.manifest());
  });

  it('lists each loaded rule in the language asked, with its reason codes as code and status', () => {
    const { q, calls } = queries();
    expect(q.rules('ja')).toStrictEqual({
      ruleSetVersion: ruleSetVersion(RULES),
      language: 'ja',
      rules: [
        { id: 'test-alpha', version: '1.0.0', title: 'テスト アルファ', rationale: 'テスト用。', severity: 'Warning', references: [], reasonCodes: [{ code: 'FromState', status: 'Pass' }], needs: alphaRule.needs },
        { id: 'test-beta', version: '1.0.0', title: 'テスト ベータ', rationale: '証拠。', severity: 'Info', references: betaRule.references, reasonCodes: [{ code: 'Ok', status: 'Pass' }], needs: betaRule.needs },
      ],
    });
    expect(calls).toStrictEqual([]);
  });
});

describe('the results and events lists', () => {
  it('asks the store for the loaded rules page by page and answers each row in the language asked', async () => {
    const { q, calls } = queries({ results: { items: [summaryRow({ previousStatus: 'Pass' }), summaryRow({ ruleId: betaRule.id, status: 'Pass', firstSeen: 0 })], continuationToken: 'next' } });
    const page = await q.results({ statuses: ['Warning', 'Pass'] }, 2, 'from', 'ja');
    expect(calls).toStrictEqual([['listResults', { statuses: ['Warning', 'Pass'] }, ['test-alpha', 'test-beta'], 2, 'from', 'ja']]);
    expect(page).toStrictEqual({
      items: [
        { server: SERVER, ruleId: 'test-alpha', ruleVersion: '1.0.0', status: 'Warning', reasonCode: 'StateWarning', severity: 'Warning', message: 'アルファは Warning', firstSeen: '2026-12-06T09:00:00.000Z', previousStatus: 'Pass' },
        { server: SERVER, ruleId: 'test-beta', ruleVersion: '1.0.0', status: 'Pass', reasonCode: 'StateWarning', severity: 'Warning', message: 'アルファは Warning', firstSeen: null, previousStatus: null },
      ],
      continuationToken: 'next',
    });
  });

  it('answers a null token on the last page', async () => {
    const { q } = queries({ results: { items: [] }, events: { items: [] } });
    expect(await q.results({ statuses: ['Error'] }, 10, undefined, 'en')).toStrictEqual({ items: [], continuationToken: null });
    expect(await q.events({}, 10, undefined, 'en')).toStrictEqual({ items: [], continuationToken: null });
  });

  it('asks the events store with the filter as given and answers each event in the language asked', async () => {
    const event: EventRecord = {
      server: SERVER,
      ruleId: alphaRule.id,
      ruleVersion: '1.0.0',
      fromStatus: 'Pass',
      toStatus: 'Warning',
      reasonCode: 'StateWarning',
      severity: 'Warning',
      message: { en: 'alpha is Warning', ja: 'アルファは Warning' },
      firstSeen: RESULT_TIMES.firstSeen,
      snapshotId: '3b1f6c2e-5d4a-4c8b-9e7f-0a1b2c3d4e5f',
      recordedAt: RESULT_TIMES.lastSeen,
    } as EventRecord;
    const { q, calls } = queries({ events: { items: [event], continuationToken: 'more' } });
    const page = await q.events({ server: SERVER }, 5, 'at', 'en');
    expect(calls).toStrictEqual([['listEvents', { server: SERVER }, 5, 'at', 'en']]);
    expect(page.continuationToken).toBe('more');
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ server: SERVER, kind: 'status', fromStatus: 'Pass', toStatus: 'Warning', message: 'alpha is Warning', recordedAt: '2026-12-06T12:00:00.000Z', cause: 'snapshot' });
  });
});

describe('one server', () => {
  const host: HostRecord = {
    server: SERVER,
    hostName: 'EXCH1',
    collectorName: 'Collect-PostureSnapshot',
    collectorVersion: '1.4.0',
    firstSeen: Date.parse('2026-11-01T08:00:00.000Z'),
    lastSeen: RESULT_TIMES.lastSeen,
    lastSnapshotId: 's',
    lastCollectedAt: RESULT_TIMES.collectedAt,
    hostHash: 'h',
  };

  it('is unknown when it has neither results nor a Hosts row, after reading all three side by side', async () => {
    const { q, calls } = queries();
    expect(await q.server(SERVER, 'en')).toBeUndefined();
    expect(calls).toStrictEqual([['readServer', SERVER], ['getHost', SERVER], ['getLatestRaw', SERVER]]);
  });

  it('answers its newest snapshot, host facts, raw body and the loaded rules in their order, a retired rule left out', async () => {
    const older = Date.parse('2026-12-05T10:00:00.000Z');
    const rows = [
      storedResult({ ruleId: 'retired-rule', collectedAt: RESULT_TIMES.collectedAt + 60_000, lastSeen: NOW, snapshotId: 'from-the-retired-row' }),
      storedResult({ ruleId: betaRule.id, status: 'Pass', severity: 'Info', reasonCode: 'Ok', message: { en: 'beta ok', ja: 'ベータ OK' }, remediation: { en: [], ja: [] }, evidenceJson: '{"tail":null}', collectedAt: older, lastSeen: older, snapshotId: 'old' }),
      storedResult({ ruleId: alphaRule.id, reasonCode: 'StateWarning', previousStatus: 'Pass' }),
    ];
    const full: HostRecord = { ...host, fqdn: 'exch1.corp.contoso.com', osCaption: 'Windows Server 2022', osVersion: '10.0.20348', osArchitecture: '64-bit', utcOffsetMinutes: 60, manifestVersion: 'sha256:m' };
    const raw: RawSnapshotMeta = { server: SERVER, snapshotId: 'raw-id', collectedAt: RESULT_TIMES.collectedAt, receivedAt: RESULT_TIMES.lastSeen, contentHash: 'sha256:c', rawBytes: 4096, rawStored: true };
    const { q } = queries({ rows, host: full, raw });
    expect(await q.server(SERVER, 'en')).toStrictEqual({
      server: SERVER,
      lastSeen: iso(NOW),
      lastSnapshotId: 'from-the-retired-row',
      lastCollectedAt: iso(RESULT_TIMES.collectedAt + 60_000),
      host: {
        name: 'EXCH1',
        fqdn: 'exch1.corp.contoso.com',
        os: { caption: 'Windows Server 2022', version: '10.0.20348', architecture: '64-bit' },
        utcOffsetMinutes: 60,
        collector: { name: 'Collect-PostureSnapshot', version: '1.4.0', manifestVersion: 'sha256:m' },
        firstSeen: '2026-11-01T08:00:00.000Z',
      },
      rawSnapshot: { snapshotId: 'raw-id', collectedAt: iso(RESULT_TIMES.collectedAt), bytes: 4096, contentHash: 'sha256:c' },
      results: [
        { ruleId: 'test-alpha', ruleVersion: '1.0.0', title: 'Test alpha', severity: 'Warning', status: 'Warning', reasonCode: 'StateWarning', message: 'Blocked.', remediation: ['Exclude it.'], references: [], evidence: { rules: 1 }, firstSeen: iso(RESULT_TIMES.firstSeen), previousStatus: 'Pass' },
        { ruleId: 'test-beta', ruleVersion: '1.0.0', title: 'Test beta', severity: 'Info', status: 'Pass', reasonCode: 'Ok', message: 'beta ok', remediation: [], references: [{ title: 'example', url: 'https://example.invalid/beta' }], evidence: { tail: null }, firstSeen: iso(RESULT_TIMES.firstSeen), previousStatus: null },
      ],
    });
  });

  it('takes the newest snapshot whichever row holds it, and of rows of one snapshot the first read', async () => {
    const newest = (first: string, second: string) => [
      storedResult({ ruleId: alphaRule.id, collectedAt: 1_000, lastSeen: 9_000, snapshotId: 'older' }),
      storedResult({ ruleId: betaRule.id, collectedAt: 2_000, lastSeen: 3_000, snapshotId: first }),
      storedResult({ ruleId: 'retired-rule', collectedAt: 2_000, lastSeen: 4_000, snapshotId: second }),
    ];
    expect(await queries({ rows: newest('newer', 'also-newer') }).q.server(SERVER, 'en')).toMatchObject({ lastSnapshotId: 'newer', lastCollectedAt: iso(2_000), lastSeen: iso(3_000) });
    expect(await queries({ rows: newest('read-first', 'read-second') }).q.server(SERVER, 'en')).toMatchObject({ lastSnapshotId: 'read-first', lastSeen: iso(3_000) });
  });

  it('enrolled and never posted answers its Hosts row with nulls for what it never sent', async () => {
    const { q } = queries({ host });
    expect(await q.server(SERVER, 'en')).toStrictEqual({
      server: SERVER,
      lastSeen: null,
      lastSnapshotId: null,
      lastCollectedAt: null,
      host: {
        name: 'EXCH1',
        fqdn: null,
        os: { caption: null, version: null, architecture: null },
        utcOffsetMinutes: null,
        collector: { name: 'Collect-PostureSnapshot', version: '1.4.0', manifestVersion: null },
        firstSeen: '2026-11-01T08:00:00.000Z',
      },
      rawSnapshot: null,
      results: [],
    });
  });

  it('with results and no Hosts row answers a null host', async () => {
    const { q } = queries({ rows: [storedResult({ ruleId: alphaRule.id })] });
    expect(await q.server(SERVER, 'ja')).toMatchObject({ host: null, rawSnapshot: null, results: [{ ruleId: 'test-alpha', title: 'テスト アルファ', message: 'ブロック。' }] });
  });
});

describe('the summary', () => {
  it('reads the outbox before the counters and answers counts per rule, totals and the largest rule total as the host count', async () => {
    const counts = new Map([
      [alphaRule.id, new Map([['Pass', 3], ['Warning', 2], ['Unknown', 1]])],
      [betaRule.id, new Map([['Pass', 5]])],
    ]);
    const { q, calls } = queries({ counts, waiting: true });
    expect(await q.summary('ja')).toStrictEqual({
      generatedAt: '2026-12-06T12:30:00.000Z',
      ruleSetVersion: ruleSetVersion(RULES),
      countsPending: true,
      hosts: 6,
      statuses: ['Pass', 'Warning', 'Error', 'NotApplicable', 'Unknown'],
      rules: [
        { ruleId: 'test-alpha', title: 'テスト アルファ', severity: 'Warning', counts: { Pass: 3, Warning: 2, Error: 0, NotApplicable: 0, Unknown: 1 }, total: 6 },
        { ruleId: 'test-beta', title: 'テスト ベータ', severity: 'Info', counts: { Pass: 5, Error: 0, Warning: 0, NotApplicable: 0, Unknown: 0 }, total: 5 },
      ],
      totals: { Pass: 8, Warning: 2, Error: 0, NotApplicable: 0, Unknown: 1 },
    });
    expect(calls).toStrictEqual([['changesWaiting'], ['getRuleCounts', ['test-alpha', 'test-beta']]]);
  });

  it('counts a rule without counters as zero everywhere, and a fleet with none as no hosts', async () => {
    const { q } = queries();
    const summary = await q.summary('en');
    expect(summary.hosts).toBe(0);
    expect(summary.countsPending).toBe(false);
    expect(summary.rules.map((r) => [r.ruleId, r.total, Object.values(r.counts)])).toStrictEqual([
      ['test-alpha', 0, [0, 0, 0, 0, 0]],
      ['test-beta', 0, [0, 0, 0, 0, 0]],
    ]);
    expect(summary.totals).toStrictEqual({ Pass: 0, Warning: 0, Error: 0, NotApplicable: 0, Unknown: 0 });
  });

  it('answers whether changes are still waiting from the outbox alone', async () => {
    const { q, calls } = queries({ waiting: true });
    expect(await q.countsPending()).toStrictEqual({ countsPending: true });
    expect(calls).toStrictEqual([['changesWaiting']]);
  });
});
