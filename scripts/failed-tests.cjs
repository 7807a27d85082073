#!/usr/bin/env node
// `node scripts/failed-tests.cjs REPORT...`: names every failed test of vitest JSON reports, with
// the first lines of its error. CI prints this last, so a failure is named in the part of the log
// that is kept, not only thousands of lines above it.
// `--files REPORT`: the files of its failed tests, a line each (CI runs them once more).
// `--again REPORT SECOND`: what became of each failed test in the second run of its file, which
// tells a test that fails now and then from one that fails every time; the first run's count stands.
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

const ERROR_LINES = 6;
/** The name given to a file that failed without a failed test (an import error, a hook). */
const FILE_ITSELF = '(the file itself)';

/** The failed tests of one vitest JSON report, as { file, name, error } (error: its first lines). */
function failedTests(report, root = process.cwd()) {
  const failed = [];
  for (const file of report.testResults ?? []) {
    const where = path.relative(root, file.name);
    const tests = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
    for (const t of tests) failed.push({ file: where, name: t.fullName ?? t.title, error: firstLines((t.failureMessages ?? []).join('\n')) });
    // A file that failed without any failed test (an import error, a hook) says so in its message.
    if (tests.length === 0 && file.status === 'failed') failed.push({ file: where, name: FILE_ITSELF, error: firstLines(file.message ?? '') });
  }
  return failed.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/** The message lines and the first stack frame: the frames below it are the test runner's. */
function firstLines(text) {
  const lines = text.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  const frame = lines.findIndex((l) => /^\s*at /.test(l));
  const kept = frame === -1 ? lines : [...lines.slice(0, frame), lines[frame].trim()];
  return kept.slice(0, ERROR_LINES);
}

/** The report at `p`, or the line that says why there is none. */
function readReport(p) {
  if (!existsSync(p)) return { line: `${p}: no report (the run ended before writing it).` };
  try {
    return { report: JSON.parse(readFileSync(p, 'utf8')) };
  } catch (e) {
    return { line: `${p}: the report cannot be read: ${e.message}` };
  }
}

/** The lines to print for the given report files; a missing or unreadable report says so. */
function describe(reportPaths, root = process.cwd()) {
  const lines = [];
  for (const p of reportPaths) {
    const { report, line } = readReport(p);
    if (!report) {
      lines.push(line);
      continue;
    }
    for (const f of failedTests(report, root)) {
      lines.push(`FAILED ${f.file} > ${f.name}`);
      for (const l of f.error) lines.push(`    ${l}`);
    }
  }
  return lines;
}

/** The files that hold a failed test of the report at `p` (none when it cannot be read). */
function failedFiles(p, root = process.cwd()) {
  const { report } = readReport(p);
  return report ? [...new Set(failedTests(report, root).map((f) => f.file))] : [];
}

/** For each failed test of the first report: passed, failed again, or not run, in the second. */
function again(firstPath, secondPath, root = process.cwd()) {
  const first = readReport(firstPath);
  if (!first.report) return [first.line];
  const second = readReport(secondPath);
  if (!second.report) return [second.line];
  const outcome = new Map();
  for (const file of second.report.testResults ?? []) {
    const where = path.relative(root, file.name);
    outcome.set(`${where} > ${FILE_ITSELF}`, file.status === 'failed' && (file.assertionResults ?? []).length === 0 ? 'failed' : 'passed');
    for (const t of file.assertionResults ?? []) outcome.set(`${where} > ${t.fullName ?? t.title}`, t.status);
  }
  return failedTests(first.report, root).map((f) => {
    const status = outcome.get(`${f.file} > ${f.name}`);
    const said = status === 'passed' ? 'passed on a second run' : status === 'failed' ? 'failed again' : 'not run again';
    return `AGAIN ${said}: ${f.file} > ${f.name}`;
  });
}

module.exports = { failedTests, describe, failedFiles, again };

if (require.main === module) {
  const [first, ...rest] = process.argv.slice(2);
  if (first === '--files') {
    const files = failedFiles(rest[0] ?? '');
    if (files.length > 0) console.log(files.join('\n'));
  }
  else if (first === '--again') console.log(again(rest[0] ?? '', rest[1] ?? '').join('\n'));
  else {
    const lines = describe(process.argv.slice(2));
    console.log(lines.length === 0 ? 'failed tests: none' : lines.join('\n'));
  }
}
