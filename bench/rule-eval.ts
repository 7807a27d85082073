// Micro-benchmark of the port-25 rule: median microseconds per evaluation for three fixture
// classes. Run with `npm run bench:rules` (prints only), or through `npm run bench`, which calls
// measureRuleEvaluation() and records the figures; never part of `npm test`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { mcafeePort25Blocked } from '../src/rules/mcafee-port25-blocked';
import type { NormalisedSnapshot } from '../src/snapshot/normalise';
import { parseSnapshot } from '../src/snapshot/parse';
import { median, percentile } from './lib/measure';
import { table } from './lib/print';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'port25');
const RUNS = 20_000;
const WARMUP = 2_000;

function load(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as Record<string, unknown>;
}

/** A 64 KiB AccessProtectionLog.txt tail: ordinary blocks of other processes, then SMTP lines. */
export function bigTail(): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < 64 * 1024 - 400; i++) {
    const m = i % 60;
    const line =
      i % 3 === 0
        ? `11/2${i % 7}/2026\t${(i % 12) + 1}:${String(m).padStart(2, '0')}:0${i % 10} PM\tBlocked by Access Protection rule \tNT AUTHORITY\\SYSTEM\tC:\\WINDOWS\\system32\\svchost.exe\tCommon Standard Protection:Prevent modification of McAfee files and settings\tC:\\Program Files (x86)\\McAfee\\VirusScan Enterprise\\mcshield.exe\tAction blocked : Terminate`
        : `11/2${i % 7}/2026\t${(i % 12) + 1}:${String(m).padStart(2, '0')}:1${i % 10} AM\tBlocked by port blocking rule \tC:\\USERS\\JSMITH\\APPDATA\\LOCAL\\TEMP\\MAILER${i}.EXE\tAnti-virus Standard Protection:Prevent mass mailing worms from sending mail\t198.51.100.${i % 250}:25`;
    lines.push(line);
    size += line.length + 2;
  }
  lines.push('11/27/2026\t9:15:44 AM\tWould be blocked by port blocking rule  (rule is currently not enforced) \tC:\\PROGRAM FILES\\MICROSOFT\\EXCHANGE SERVER\\V14\\BIN\\EDGETRANSPORT.EXE\tAnti-virus Standard Protection:Prevent mass mailing worms from sending mail\t192.0.2.25:25');
  return lines.join('\r\n') + '\r\n';
}

function normalised(doc: unknown): NormalisedSnapshot {
  const parsed = parseSnapshot(doc, { now: Date.parse('2030-01-01T00:00:00Z') });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.normalised;
}

function measure(fn: () => unknown): { median: number; p99: number } {
  for (let i = 0; i < WARMUP; i++) fn();
  const samples: number[] = new Array<number>(RUNS);
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  const sorted = samples.sort((a, b) => a - b);
  return { median: median(sorted), p99: percentile(sorted, 99) };
}

export interface RuleEvalRow {
  readonly class: string;
  readonly reasonCode: string;
  readonly runs: number;
  readonly evaluateMedianUs: number;
  readonly evaluateP99Us: number;
  readonly parseAndEvaluateMedianUs: number;
}

export function ruleEvalClasses(): [string, Record<string, unknown>][] {
  const withLog = load('vse88-x64-transport-not-excluded.json');
  withLog.files = [{ path: 'C:\\ProgramData\\McAfee\\DesktopProtection\\AccessProtectionLog.txt', exists: true, size: 1_048_576, tail: bigTail() }];
  return [
    ['VSE 8.0i (reference layout, Exchange 2003)', load('vse80i-exchange2003-inetinfo-removed-from-list.json')],
    ['VSE 8.8 (AccessProtectionUserRules, Exchange 2010)', load('vse88-x64-transport-not-excluded.json')],
    ['VSE 8.8 + 64 KiB AccessProtectionLog tail', withLog],
  ];
}

/** Median and p99 µs of one evaluation per class (and parse + normalise + evaluate). */
export function measureRuleEvaluation(): RuleEvalRow[] {
  return ruleEvalClasses().map(([name, doc]) => {
    const snap = normalised(doc);
    const verdict = mcafeePort25Blocked.evaluate(snap).reasonCode;
    const e = measure(() => mcafeePort25Blocked.evaluate(snap));
    const pe = measure(() => mcafeePort25Blocked.evaluate(normalised(doc)));
    return { class: name, reasonCode: verdict, runs: RUNS, evaluateMedianUs: e.median, evaluateP99Us: e.p99, parseAndEvaluateMedianUs: pe.median };
  });
}

if (require.main === module) {
  console.log(`mcafee-port25-blocked ${mcafeePort25Blocked.version}: ${RUNS} runs per class after ${WARMUP} warm-up, Node ${process.version}`);
  const rows = measureRuleEvaluation();
  table(
    ['class', 'evaluate µs (median)', 'p99', 'parse+evaluate µs (median)'],
    rows.map((r) => [`${r.class} [${r.reasonCode}]`, r.evaluateMedianUs.toFixed(1), r.evaluateP99Us.toFixed(1), r.parseAndEvaluateMedianUs.toFixed(1)]),
  );
}
