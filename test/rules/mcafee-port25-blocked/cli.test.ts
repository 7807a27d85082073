// The built CLI gives the same verdicts as the rule for every fixture, speaks Japanese with
// --lang ja, prints a readable report with --format text, and rejects an invalid snapshot.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureServiceBuilt } from '../../support/built';
import { FIXTURE_DIR, readFixture, TABLE } from './fixture-table';

const ROOT = path.resolve(__dirname, '../../..');
const BIN = path.join(ROOT, 'bin', 'fleet-posture.js');
const BUILT = path.join(ROOT, 'dist', 'src', 'rules', 'mcafee-port25-blocked', 'index.js');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

/** Runs `fn` over `items` with at most `limit` child processes at a time (build VMs are small). */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

beforeAll(() => {
  // Build when dist/ is missing or older than the sources, so the test runs what the code says.
  ensureServiceBuilt(BUILT);
  expect(existsSync(BUILT)).toBe(true);
}, 120_000);

describe('fleet-posture evaluate (built CLI)', () => {
  it('gives every fixture the verdict of the table', async () => {
    const runs = await pool(TABLE, 4, (t) => cli(['evaluate', path.join(FIXTURE_DIR, t.file)]));
    const got = runs.map((r, i) => {
      const t = TABLE[i]!;
      expect(r.code, `${t.file}: ${r.stderr}`).toBe(0);
      const out = JSON.parse(r.stdout) as { server: string; results: { ruleId: string; status: string; reasonCode: string; evidence: Record<string, unknown> }[] };
      const res = out.results.find((x) => x.ruleId === 'mcafee-port25-blocked');
      expect(res?.evidence).toMatchObject(t.evidence);
      return `${t.file} ${res?.status} ${res?.reasonCode}`;
    });
    expect(got).toEqual(TABLE.map((t) => `${t.file} ${t.status} ${t.reasonCode}`));
  }, 300_000);

  it('speaks Japanese with --lang ja', async () => {
    const r = await cli(['evaluate', '--lang', 'ja', path.join(FIXTURE_DIR, 'vse88-x64-transport-not-excluded.json')]);
    expect(r.code).toBe(0);
    const res = (JSON.parse(r.stdout) as { results: { title: string; message: string; remediation: string[] }[] }).results[0]!;
    expect(res.title).toBe('ポート 25 がブロックされている');
    expect(res.message).toContain('EdgeTransport.exe');
    expect(res.message).toContain('マス メール型ワームによるメールの送信を防止する');
    expect(res.remediation.join('\n')).toContain('除外するプロセス');
  });

  it('prints a readable report with --format text', async () => {
    const r = await cli(['evaluate', '--format', 'text', path.join(FIXTURE_DIR, 'vse80i-exchange2003-inetinfo-removed-from-list.json')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[WARNING] mcafee-port25-blocked — Port 25 is blocked  (SmtpNotExcluded)');
    expect(r.stdout).toContain('inetinfo.exe (service SMTPSVC)');
    expect(r.stdout).toContain('What to do:');
    expect(r.stdout).toContain('KB 823166');
    expect(r.stdout).toContain('Guide: docs/rules/mcafee-port25-blocked.md#smtpnotexcluded');
    expect(() => JSON.parse(r.stdout)).toThrow();
    // For a person: no raw evidence unless asked for, so one result fits a screen.
    expect(r.stdout).not.toContain('"evidenceVersion"');
    expect(r.stdout).toContain('--evidence prints it in full');
    expect(r.stdout.trim().split('\n').length).toBeLessThanOrEqual(20);
  });

  it('prints the full evidence with --format text --evidence', async () => {
    const file = path.join(FIXTURE_DIR, 'vse80i-exchange2003-inetinfo-removed-from-list.json');
    const [text, json] = await Promise.all([cli(['evaluate', '--format', 'text', '--evidence', file]), cli(['evaluate', file])]);
    expect(text.code).toBe(0);
    const evidence = (JSON.parse(json.stdout) as { results: { evidence: unknown }[] }).results[0]!.evidence;
    expect(text.stdout).toContain('  Evidence:\n');
    // The evidence block is the JSON evidence, indented.
    const block = text.stdout.slice(text.stdout.indexOf('  Evidence:\n') + 12).replace(/^ {4}/gm, '');
    expect(JSON.parse(block)).toEqual(evidence);
  });

  it('words a missing field the same way whatever the field, and says so once per problem', async () => {
    const r = await cli(['evaluate', '-'], '{}');
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain('-: snapshotId: is required (a string) but missing');
    expect(lines).toContain('-: collectedAt: is required (a string) but missing');
    expect(lines).toContain('-: schema: is required (one of "fleet-posture/snapshot@1") but missing');
    for (const line of lines) expect(line).toMatch(/^-: [\w.[\]]+: is required \(.+\) but missing$/);
  });

  it('explains empty standard input (a failed command piped in) instead of a JSON parser error', async () => {
    const r = await cli(['evaluate', '-'], '');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('-: standard input is empty: no snapshot arrived (if it was piped from another command, that command failed; see its message above)\n');
    const garbage = await cli(['evaluate', '-'], 'not json');
    expect(garbage.stderr).toMatch(/^-: is not JSON: /);
    expect(garbage.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exits 2 with one line per problem for an invalid snapshot', async () => {
    const doc = readFixture('vse88-x64-transport-not-excluded.json') as { registry: Record<string, unknown>[]; services: Record<string, unknown>[] };
    doc.registry[0] = { ...doc.registry[0], view: '48' };
    doc.services[0] = { ...doc.services[0], started: 'yes' };
    const dir = mkdtempSync(path.join(tmpdir(), 'port25-'));
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(doc));
    const r = await cli(['evaluate', file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/registry\[0\]\.view: /);
    expect(lines[1]).toMatch(/services\[0\]\.started: /);
  });
});
