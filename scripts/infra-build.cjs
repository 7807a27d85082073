#!/usr/bin/env node
// `npm run infra:build`: lints infra/main.bicep (and the modules it uses) with the pinned Bicep
// CLI under bicepconfig.json, where every lint rule is an error, and compiles it to
// dist/infra/main.json. Any diagnostic, warning or error, fails the build.
'use strict';
const { createHash } = require('node:crypto');
const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, readFileSync, readdirSync, renameSync } = require('node:fs');
const path = require('node:path');
const { HOW_TO_GET_TOOLS, ROOT, installedTools } = require('./tool-paths.cjs');

const MAIN_BICEP = path.join(ROOT, 'infra', 'main.bicep');
const BUILD_OUT = path.join(ROOT, 'dist', 'infra', 'main.json');
const DIAGNOSTIC = /\((\d+),(\d+)\) : (Error|Warning|Info) (\S+): /;

function bicepFiles(dir = path.join(ROOT, 'infra')) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? bicepFiles(path.join(dir, e.name)) : e.name.endsWith('.bicep') ? [path.join(dir, e.name)] : [],
  );
}

/** Runs the Bicep CLI; returns its diagnostic lines (any severity) and the raw output. */
function bicep(args) {
  const { bicep: cli } = installedTools();
  if (!cli) throw new Error(`the Bicep CLI is not installed; ${HOW_TO_GET_TOOLS}`);
  const r = spawnSync(cli, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, BICEP_TRACING_ENABLED: 'false' } });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const diagnostics = output.split('\n').filter((line) => DIAGNOSTIC.test(line));
  return { status: r.status, output, diagnostics };
}

/** Lints, then compiles to outFile. Throws with every diagnostic when there is any. */
function compileInfra(outFile = BUILD_OUT) {
  mkdirSync(path.dirname(outFile), { recursive: true });
  const lint = bicep(['lint', MAIN_BICEP]);
  const tmp = `${outFile}.${process.pid}.tmp`;
  const build = bicep(['build', MAIN_BICEP, '--outfile', tmp]);
  const diagnostics = [...new Set([...lint.diagnostics, ...build.diagnostics])];
  if (lint.status !== 0 || build.status !== 0 || diagnostics.length > 0 || !existsSync(tmp)) {
    throw new Error(`Bicep reported ${diagnostics.length} diagnostic(s):\n${diagnostics.join('\n') || lint.output + build.output}`);
  }
  renameSync(tmp, outFile);
  return { outFile, lintDiagnostics: lint.diagnostics.length, buildDiagnostics: build.diagnostics.length };
}

/**
 * The compiled template for the current sources, compiled once per content: tests share
 * dist/infra/cache/<hash of the .bicep files and bicepconfig.json>.json.
 */
function compiledTemplate() {
  const hash = createHash('sha256');
  for (const file of [...bicepFiles().sort(), path.join(ROOT, 'bicepconfig.json')]) {
    hash.update(path.relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  const cached = path.join(ROOT, 'dist', 'infra', 'cache', `${hash.digest('hex').slice(0, 16)}.json`);
  if (!existsSync(cached)) compileInfra(cached);
  return JSON.parse(readFileSync(cached, 'utf8'));
}

module.exports = { MAIN_BICEP, BUILD_OUT, compileInfra, compiledTemplate };

if (require.main === module) {
  try {
    const r = compileInfra();
    console.log(`infra:build: ${path.relative(ROOT, MAIN_BICEP)} linted (every rule an error) and compiled to ${path.relative(ROOT, r.outFile)}: 0 warnings, 0 errors.`);
  } catch (error) {
    console.error(`infra:build failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
