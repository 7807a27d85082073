#!/usr/bin/env node
// `npm run test:node22`: the tests of what depends on the Node version, run again under Node 22
// (the version the service deploys on; `npm test` runs on the Node in PATH). Ends with
// "node22: N passed, N failed"; fails when Node 22 is not installed (`npm run tools`).
'use strict';
const { spawnSync } = require('node:child_process');
const { readFileSync, rmSync } = require('node:fs');
const path = require('node:path');
const { HOW_TO_GET_TOOLS, ROOT, installedTools } = require('./tool-paths.cjs');

/**
 * What leans on the Node version: the local host's HTTP edges (it uses two Node internals to close
 * refused connections lingering), the Functions entry and the deployment package as the host loads
 * them, the heap settings the app passes to Node, the snapshot parser (String.isWellFormed), the
 * storage SDK over Node's HTTP client, one end-to-end path from the collector through HTTP, and
 * the KQL compiler of the alert tests (@kusto/language-service-next declares no Node engines).
 */
const NODE22_TESTS = [
  'test/local/',
  'test/service/local-host',
  'test/service/route-table.test.ts',
  'test/service/every-route.test.ts',
  'test/service/ingest.test.ts',
  'test/service/free-text-characters.test.ts',
  'test/service/snapshot-characters.test.ts',
  'test/service/projector.test.ts',
  'test/infra/deployment-package.test.ts',
  'test/infra/app-settings.test.ts',
  'test/infra/alert-kql.test.ts',
  'test/snapshot/',
  'test/store/',
  'test/collector/end-to-end.test.ts',
];

const REPORT = path.join(ROOT, 'test-results', 'vitest-node22.json');

/** Runs the files above under Node 22; returns { status, passed, failed } (missing: no Node 22). */
function runNode22Tests() {
  const node = installedTools().node22;
  if (!node) return { missing: true, status: 1, passed: 0, failed: 0 };
  rmSync(REPORT, { force: true });
  const vitest = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
  // Node 22 first in PATH too, so nothing a test starts by name falls back to the older Node.
  const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}`, POSTURE_TEST_REPORT: REPORT };
  const args = [vitest, 'run', ...NODE22_TESTS];
  const r = spawnSync(node, args, { cwd: ROOT, stdio: 'inherit', env });
  let passed = 0;
  let failed = 1;
  try {
    const report = JSON.parse(readFileSync(REPORT, 'utf8'));
    passed = report.numPassedTests;
    failed = report.numFailedTests;
  } catch {
    // No report: the run itself failed, counted as one failure.
  }
  if (r.status !== 0 && failed === 0) failed = 1;
  return { missing: false, status: r.status ?? 1, passed, failed };
}

module.exports = { NODE22_TESTS, runNode22Tests };

if (require.main === module) {
  const r = runNode22Tests();
  if (r.missing) {
    console.log(`node22: tests did not run: Node 22 is not installed; ${HOW_TO_GET_TOOLS}.`);
  } else {
    console.log(`node22: ${r.passed} passed, ${r.failed} failed`);
  }
  process.exitCode = r.status === 0 && r.failed === 0 ? 0 : 1;
}
