// Each port-25 fixture: it satisfies the contract, and the rule gives the verdict and evidence
// the spec assigns it. Together the fixtures reach every (row × generation) cell.
import { describe, expect, it } from 'vitest';
import { evaluateRule } from '../../../src/rules/registry';
import { mcafeePort25Blocked } from '../../../src/rules/mcafee-port25-blocked';
import { parseSnapshot } from '../../../src/snapshot/parse';
import { fixtureFiles, readFixture, TABLE, type Gen } from './fixture-table';

const NOW = Date.parse('2026-12-01T00:00:00.000Z');

function evaluateFixture(file: string) {
  const parsed = parseSnapshot(readFixture(file), { now: NOW });
  if (!parsed.ok) throw new Error(`${file} does not satisfy the contract: ${parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return evaluateRule(mcafeePort25Blocked, parsed.normalised);
}

describe('port-25 fixtures', () => {
  it('has at least 30 fixtures, every one listed in the table exactly once', () => {
    const files = fixtureFiles();
    expect(files.length).toBeGreaterThanOrEqual(30);
    expect([...TABLE.map((t) => t.file)].sort()).toEqual(files);
  });

  it.each(fixtureFiles())('%s satisfies the snapshot contract', (file) => {
    const parsed = parseSnapshot(readFixture(file), { now: NOW });
    expect(parsed.ok ? [] : parsed.issues).toEqual([]);
  });

  it.each(TABLE)('$file → $status $reasonCode', (t) => {
    const r = evaluateFixture(t.file);
    expect(r.status).toBe(t.status);
    expect(r.reasonCode).toBe(t.reasonCode);
    expect(r.evidence).toMatchObject({ decidedBy: t.row, ...t.evidence });
    const product = r.evidence.product as { generation?: string } | null;
    expect(product?.generation ?? null).toBe(t.generation);
    const codes = (r.evidence.assumptions as { code: string }[]).map((a) => a.code);
    if (t.assumptions) expect(codes.sort()).toEqual([...t.assumptions].sort());
    // Texts exist in both languages; findings carry remediation.
    expect(r.message.en.length).toBeGreaterThan(20);
    expect(r.message.ja).toMatch(/[\u3040-\u30ff\u4e00-\u9fff]/);
    if (t.status === 'Warning' || t.status === 'Error') expect(r.remediation).toHaveLength(2);
    if (t.status === 'Pass' || t.status === 'NotApplicable') expect(r.remediation).toEqual([]);
    // Evidence is plain JSON.
    expect(JSON.parse(JSON.stringify(r.evidence))).toEqual(r.evidence);
  });

  it('reaches every row on every product generation', () => {
    const gens: Gen[] = ['VSE80i', 'VSE85-87', 'VSE88'];
    const reached = new Set(TABLE.map((t) => `${t.row}:${t.generation ?? '-'}`));
    const missing: string[] = [];
    if (!reached.has('1:-')) missing.push('1:-');
    for (let row = 2; row <= 10; row++) for (const g of gens) if (!reached.has(`${row}:${g}`)) missing.push(`${row}:${g}`);
    expect(missing).toEqual([]);
  });

  it('table rows agree with the rule\'s reason codes', () => {
    for (const t of TABLE) expect(mcafeePort25Blocked.reasonCodes[t.reasonCode]).toBe(t.status);
  });

  it('names the culprit process and rule in the Warning message, in both languages', () => {
    const r = evaluateFixture('vse88-exchange2016-frontend-not-excluded.json');
    expect(r.message.en).toContain('MSExchangeFrontendTransport.exe');
    expect(r.message.en).toContain('Prevent mass mailing worms from sending mail');
    expect(r.message.ja).toContain('MSExchangeFrontendTransport.exe');
    expect(r.message.ja).toContain('マス メール型ワーム');
    expect(r.remediation[0]?.en).toContain('MSExchangeFrontendTransport.exe');
  });
});
