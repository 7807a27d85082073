// Lists the surviving mutants of a Stryker report that the run tested at run time: those not
// static. With ignoreStatic (npm run mutation:quick), a mutant of code that runs when its module
// loads (a schema, a message table, a regular expression at the top of a file) that a test also
// reaches later is run against that test alone, with the value already built as it was: it
// survives whatever the tests check. Its "survived" says nothing; the others' does.
// Usage: node scripts/mutation-survivors.cjs [report.json]; exits 1 when any is left.
'use strict';
const { readFileSync } = require('node:fs');
const path = require('node:path');

const file = process.argv[2] ?? path.join('test-results', 'mutation', 'mutation.json');
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (error) {
  console.error(`No Stryker report could be read at ${file} (${error.message}): run npm run mutation:quick first.`);
  process.exit(2);
}

const counts = { tested: 0, survived: 0, staticSurvived: 0 };
const lines = [];
for (const [name, { mutants }] of Object.entries(report.files ?? {})) {
  for (const m of mutants) {
    if (m.status === 'Ignored' || m.status === 'NoCoverage' || m.status === 'CompileError') continue;
    if (m.static) {
      if (m.status === 'Survived') counts.staticSurvived++;
      continue;
    }
    counts.tested++;
    if (m.status !== 'Survived') continue;
    counts.survived++;
    const at = `${path.relative(process.cwd(), path.resolve(name))}:${m.location.start.line}:${m.location.start.column}`;
    lines.push(`${at} ${m.mutatorName}: ${JSON.stringify(m.replacement ?? '')}`);
  }
}
for (const line of lines.sort()) console.log(line);
console.log(`${counts.survived} of ${counts.tested} mutants tested at run time survived (${counts.staticSurvived} static survivors left out: not tested in this run).`);
process.exit(counts.survived > 0 ? 1 : 0);
