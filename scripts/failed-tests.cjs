#!/usr/bin/env node
// `node scripts/failed-tests.cjs REPORT...`: names every failed test of vitest JSON reports, with
// the first lines of its error. CI prints this last, so a failure is named in the part of the log
// that is kept, not only thousands of lines above it.
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

const ERROR_LINES = 6;

/** The failed tests of one vitest JSON report, as { file, name, error } (error: its first lines). */
function failedTests(report, root = process.cwd()) {
  const failed = [];
  for (const file of report.testResults ?? []) {
    const where = path.relative(root, file.name);
    const tests = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
    for (const t of tests) failed.push({ file: where, name: t.fullName ?? t.title, error: firstLines((t.failureMessages ?? []).join('\n')) });
    // A file that failed without any failed test (an import error, a hook) says so in its message.
    if (tests.length === 0 && file.status === 'failed') failed.push({ file: where, name: '(the file itself)', error: firstLines(file.message ?? '') });
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

/** The lines to print for the given report files; a missing or unreadable report says so. */
function describe(reportPaths, root = process.cwd()) {
  const lines = [];
  for (const p of reportPaths) {
    if (!existsSync(p)) {
      lines.push(`${p}: no report (the run ended before writing it).`);
      continue;
    }
    let report;
    try {
      report = JSON.parse(readFileSync(p, 'utf8'));
    } catch (e) {
      lines.push(`${p}: the report cannot be read: ${e.message}`);
      continue;
    }
    for (const f of failedTests(report, root)) {
      lines.push(`FAILED ${f.file} > ${f.name}`);
      for (const l of f.error) lines.push(`    ${l}`);
    }
  }
  return lines;
}

module.exports = { failedTests, describe };

if (require.main === module) {
  const lines = describe(process.argv.slice(2));
  console.log(lines.length === 0 ? 'failed tests: none' : lines.join('\n'));
}
