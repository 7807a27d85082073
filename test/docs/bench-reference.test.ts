// The benchmark figures the README and docs/benchmarks.md show are the reference run's: each
// figure of their reference tables is read back from bench/results/reference-2core.json, rounded
// as the table rounds it, and each PASS or MISS is the run's own verdict. A new reference run that
// leaves either table behind fails here, naming the row.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

interface Target {
  readonly target: string;
  readonly measured: string;
  readonly pass: boolean;
}
interface Reference {
  readonly meta: { readonly startedAt: string; readonly durationS: number; readonly cpus: number };
  readonly ingest: { readonly runs: readonly unknown[] };
  readonly massFlip: { readonly lag: { readonly maxMs: number; readonly p50Ms: number } };
  readonly targets: readonly Target[];
}
const REFERENCE = JSON.parse(read('bench/results/reference-2core.json')) as Reference;

/** The reference's targets whose name matches, in order; at least one. */
function targets(pattern: RegExp): Target[] {
  const found = REFERENCE.targets.filter((t) => pattern.test(t.target));
  if (found.length === 0) throw new Error(`The reference run has no target matching ${pattern}.`);
  return found;
}
/** "0.49× (rounds …)" → 0.49: the measured figure before its rounds. */
const figure = (t: Target): number => Number.parseFloat(t.measured);
const ratios = (pattern: RegExp) => targets(pattern).map((t) => figure(t).toFixed(2));
/** The queries the tables show, as the reference names their targets (regular expressions). */
const QUERIES = ['summary', 'warnings for one rule \\(default page', 'warnings for one rule \\(top=1000\\)', 'drift for one rule'];
/** One verdict for a group of targets shown as one figure: passed when all did. */
const allOf = (group: readonly Target[]): Target => ({ target: group.map((t) => t.target).join('; '), measured: '', pass: group.every((t) => t.pass) });
const rss = targets(/^service RSS, /).map(figure);
const rssRange = [Math.min(...rss), Math.max(...rss)].map((mb) => mb.toFixed(0));
const lag = [REFERENCE.massFlip.lag.maxMs, REFERENCE.massFlip.lag.p50Ms].map((ms) => (ms / 1000).toFixed(2));
const roundTrips = [Math.max(...targets(/including the server-key check/).map(figure)).toFixed(2)];

/** The run's date as the docs write it: "5 December". */
const REFERENCE_DAY = new Date(REFERENCE.meta.startedAt).toLocaleDateString('en-GB', { day: 'numeric', month: 'long', timeZone: 'UTC' });

/**
 * The rows of the first Markdown table after `heading` (a line that starts with it): first cell →
 * the cell in the column named `column`.
 */
function tableColumn(markdown: string, heading: string, column: string): Map<string, string> {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.startsWith(heading));
  if (start < 0) throw new Error(`No line starts with "${heading}".`);
  const first = lines.findIndex((l, i) => i > start && l.startsWith('|'));
  const cells = (l: string) => l.split('|').slice(1, -1).map((c) => c.trim());
  const header = cells(lines[first]!);
  const at = header.indexOf(column);
  if (at < 0) throw new Error(`The table after "${heading}" has no column "${column}" (${header.join(', ')}).`);
  const rows = new Map<string, string>();
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const c = cells(line);
    rows.set(c[0]!, c[at]!);
  }
  return rows;
}

/** The cell of the row whose first cell starts with `label`. */
function row(rows: Map<string, string>, label: string): string {
  const found = [...rows].filter(([name]) => name.startsWith(label));
  if (found.length !== 1) throw new Error(`${found.length} rows start with "${label}" (${[...rows.keys()].join('; ')}).`);
  return found[0]![1];
}

/** The figures a cell shows, in order, without emphasis and without what it adds in parentheses. */
const figuresOf = (cell: string): string[] => cell.replace(/\*\*/g, '').replace(/\([^)]*\)/g, '').match(/\d+(?:\.\d+)?/g) ?? [];

/**
 * Each figure of a cell with the verdict the cell gives it: a PASS or MISS stands for the figures
 * before it back to the previous one ("0.87× / 0.75× PASS / 0.68× MISS"); a figure after the last
 * has none.
 */
function verdictsOf(cell: string): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  let open = 0;
  for (const m of cell.replace(/\*\*/g, '').replace(/\([^)]*\)/g, '').matchAll(/\d+(?:\.\d+)?|\b(?:PASS|MISS)\b/g)) {
    if (m[0] === 'PASS' || m[0] === 'MISS') {
      out.fill(m[0], out.length - open);
      open = 0;
    } else {
      out.push(undefined);
      open++;
    }
  }
  return out;
}

/** A cell's verdicts hold against the run's, and every missed target's figure says MISS. */
function expectVerdicts(cell: string, run: readonly Target[]): void {
  const said = verdictsOf(cell);
  expect(said).toHaveLength(run.length);
  run.forEach((t, i) => {
    if (!t.pass) expect(said[i], `${t.target} missed`).toBe('MISS');
    else expect(said[i], `${t.target} passed`).not.toBe('MISS');
  });
}

describe('the README shows the reference run', () => {
  const readme = read('README.md');
  const rows = tableColumn(readme, 'The reference run (`bench/results/reference-2core.json`', 'reference run');

  it('names the file, the day it ran and its cores', () => {
    expect(readme).toContain(`The reference run (\`bench/results/reference-2core.json\`, ${REFERENCE_DAY}, ${REFERENCE.meta.cpus} cores;`);
  });

  it.each([
    ['steady posts c=1 / 8 / 32: throughput vs baseline', () => ratios(/^ingest steady c=\d+: throughput/)],
    ['status change c=1 / 8 / 32: throughput vs baseline', () => ratios(/^ingest change c=\d+: throughput/)],
    ['status change c=1 / 8 / 32: p99 vs baseline', () => ratios(/^ingest change c=\d+: p99/)],
    ['mass flip, 2,000 servers at c=32: throughput / p99 vs baseline', () => ratios(/^ingest massflip c=32: /)],
    ['mass flip: every event', () => lag],
    ['storage round trips per steady post', () => roundTrips],
    ['summary / 100 warnings / 1,000 warnings', () => QUERIES.slice(0, 3).map((q) => figure(targets(new RegExp(`^query ${q}.*: p50$`))[0]!).toFixed(0))],
    ['service RSS, every scenario', () => rssRange],
  ])('row "%s"', (label, expected) => {
    expect(figuresOf(row(rows, label))).toEqual(expected());
  });

  it('bolds exactly the figures that missed their target', () => {
    const bold = [...readme.slice(readme.indexOf('The reference run (')).split('\n\n')[1]!.matchAll(/\*\*([^*]+)\*\*/g)].flatMap((m) => m[1]!.match(/\d+\.\d+/g) ?? []);
    const missed = REFERENCE.targets.filter((t) => !t.pass && /^ingest /.test(t.target)).map((t) => figure(t).toFixed(2));
    expect(bold.sort()).toEqual(missed.sort());
  });
});

describe('docs/benchmarks.md shows the reference run', () => {
  const doc = read('docs/benchmarks.md');
  const heading = `## Reference run of ${REFERENCE_DAY}`;
  const rows = tableColumn(doc, heading, 'reference run');

  it('heads its newest reference section with the run\'s day, its duration and its timed runs', () => {
    expect(doc.indexOf(heading)).toBe(doc.indexOf('## Reference run of'));
    const section = doc.slice(doc.indexOf(heading)).split('\n| target')[0]!;
    expect(section).toContain(`no other load in any of its ${REFERENCE.ingest.runs.length} timed runs,\n${REFERENCE.meta.durationS} s.`);
  });

  it.each([
    ['status change c=1 / 8 / 32: throughput vs baseline', /^ingest change c=\d+: throughput/],
    ['status change c=1 / 8 / 32: p99 vs baseline', /^ingest change c=\d+: p99/],
    ['steady state c=1 / 8 / 32: throughput vs baseline', /^ingest steady c=\d+: throughput/],
    ['steady state: p99 vs baseline', /^ingest steady c=\d+: p99/],
    ['… throughput / p99 vs baseline', /^ingest massflip c=32: /],
  ])('row "%s": its figures and verdicts', (label, pattern) => {
    const cell = row(rows, label);
    expect(figuresOf(cell)).toEqual(ratios(pattern));
    expectVerdicts(cell, targets(pattern));
  });

  it('the other rows: round trips, lag, RSS and queries, with their verdicts', () => {
    expect(figuresOf(row(rows, 'steady state: round trips'))).toEqual(roundTrips);
    expectVerdicts(row(rows, 'steady state: round trips'), [allOf(targets(/storage round trips|server-key check/))]);
    expect(figuresOf(row(rows, 'mass flip (2,000 changes at c=32): projection lag'))).toEqual(lag);
    expect(figuresOf(row(rows, 'service RSS, every run'))).toEqual(rssRange);
    expectVerdicts(row(rows, 'service RSS, every run'), [allOf(targets(/^service RSS, /)), allOf(targets(/^service RSS, /))]);
    const queries = QUERIES.map((q) => targets(new RegExp(`^query ${q}.*: p50$`))[0]!);
    expect(figuresOf(row(rows, 'queries on 10,000 servers'))).toEqual(queries.map((t) => figure(t).toFixed(1)));
    expectVerdicts(row(rows, 'queries on 10,000 servers'), queries);
  });
});
