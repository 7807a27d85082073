// GET /api/export/results.csv over more than one page of results: the file streams a page at a
// time, every row once; storage failing before the first page answers 503, and failing after it
// aborts the transfer, so a reader never takes a shorter file for the whole fleet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoragePolicy } from '../../src/store';
import { resultToEntity } from '../../src/store/entities';
import type { ResultRecord } from '../../src/store';
import { injectedError } from '../support/faults';
import { rawTables } from '../support/raw-rows';
import { startTestStack, type TestStack } from '../support/stack';

/** More than one page (1,000) of Results rows. */
const SERVERS = 1_050;
const server = (i: number) => `exp${String(i).padStart(4, '0')}.corp.contoso.com`;

/** Fails the Results table's queries while armed: `first` the opening page, `later` those that continue one. */
const fault: { armed?: 'first' | 'later' } = {};
const policy: StoragePolicy = {
  name: 'exportFaults',
  async sendRequest(request, next) {
    const url = decodeURIComponent(request.url);
    const query = request.method === 'GET' && /\/[A-Za-z]*Results\(\)/.test(url);
    const later = /NextPartitionKey=/.test(url);
    if (query && ((fault.armed === 'first' && !later) || (fault.armed === 'later' && later))) throw injectedError(request, 503);
    return next(request);
  },
};

const record = (i: number): ResultRecord => ({
  server: server(i),
  ruleId: 'mcafee-port25-blocked',
  ruleVersion: '1.1.0',
  status: i % 3 === 0 ? 'Warning' : 'Pass',
  reasonCode: 'R',
  severity: 'High',
  message: { en: `Server ${i}, "quoted", with commas`, ja: `サーバー ${i}` },
  remediation: { en: [], ja: [] },
  evidenceJson: JSON.stringify({ i }),
  fingerprint: `sha256:${String(i % 7).repeat(64)}`,
  firstSeen: Date.UTC(2026, 10, 1),
  snapshotId: `snap-${i}`,
  collectedAt: Date.UTC(2026, 10, 2),
  lastSeen: Date.UTC(2026, 10, 3),
  contentHash: 'c',
  hostHash: 'h',
  hostSyncedAt: Date.UTC(2026, 10, 3),
  eventPending: false,
  indexPending: false,
  syncPending: false,
  acceptPending: false,
});

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ storagePolicies: [policy] });
  await stack.app.store.ensureTables();
  const results = rawTables(stack).results;
  for (let i = 0; i < SERVERS; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, SERVERS - i) }, (_, k) => results.upsertEntity(resultToEntity(record(i + k)), 'Replace')));
  }
}, 120_000);
afterAll(async () => stack?.stop());

describe('GET /api/export/results.csv, streamed', () => {
  it('writes every result once over several pages, after one header and one byte-order mark, without a Content-Length', async () => {
    const res = await stack.request('export/results.csv', { key: 'reader' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBeNull();
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(bytes.indexOf(Buffer.from([0xef, 0xbb, 0xbf]), 3)).toBe(-1);
    const lines = bytes.subarray(3).toString('utf8').split('\r\n');
    expect(lines.pop()).toBe('');
    expect(lines[0]!.startsWith('Server,RuleId,')).toBe(true);
    expect(lines.filter((l) => l.startsWith('Server,'))).toHaveLength(1);
    const servers = lines.slice(1).map((l) => l.split(',')[0]);
    expect(servers).toHaveLength(SERVERS);
    expect(new Set(servers)).toEqual(new Set(Array.from({ length: SERVERS }, (_, i) => server(i))));
    expect(lines.find((l) => l.startsWith(`${server(3)},`))).toContain('"Server 3, ""quoted"", with commas",サーバー 3');
  });

  it('answers 503 with Retry-After when storage fails before the first page, and writes nothing', async () => {
    fault.armed = 'first';
    try {
      const res = await stack.request('export/results.csv', { key: 'reader' });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await res.json()) as { error: string }).error).toBe('storage_unavailable');
    } finally {
      fault.armed = undefined;
    }
  });

  it('aborts the transfer when storage fails after the first page, so no reader takes the part for the whole', async () => {
    fault.armed = 'later';
    const logged = stack.logs.length;
    try {
      const res = await stack.request('export/results.csv', { key: 'reader' });
      expect(res.status).toBe(200);
      await expect(res.arrayBuffer()).rejects.toThrow();
      expect(stack.logs.slice(logged).some((l) => /The CSV export stopped part-way/.test(l.message))).toBe(true);
    } finally {
      fault.armed = undefined;
    }
    // The service goes on serving: the next export is whole.
    const again = await stack.request('export/results.csv', { key: 'reader' });
    expect((await again.text()).split('\r\n').length).toBe(SERVERS + 2);
  });
});
