#!/usr/bin/env node
// `npm run test:collector`: the collector's whole Pester suite under PowerShell 7, ending with
// "collector: N passed, N failed, N skipped". Fails when pwsh or Pester is not installed.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { HOW_TO_GET_TOOLS, ROOT, installedTools } = require('./tool-paths.cjs');

/** Runs the suite; returns the exit code (1 when the tools are missing). */
function runCollectorTests({ resultPath, stdio = 'inherit' } = {}) {
  const tools = installedTools();
  if (!tools.pwsh || !tools.pester) {
    return { status: null, missing: true, output: '' };
  }
  const args = ['-NoProfile', '-NonInteractive', '-File', path.join(ROOT, 'collector', 'tests', 'Invoke-CollectorTests.ps1'), '-PesterPath', tools.pester];
  if (resultPath) args.push('-ResultPath', resultPath);
  const r = spawnSync(tools.pwsh, args, { cwd: ROOT, stdio, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, missing: false, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

module.exports = { runCollectorTests };

if (require.main === module) {
  const r = runCollectorTests();
  if (r.missing) {
    console.log(`collector: tests did not run: PowerShell and Pester are not installed; ${HOW_TO_GET_TOOLS}.`);
    process.exitCode = 1;
  } else {
    process.exitCode = r.status ?? 1;
  }
}
