// Where `npm run tools` puts PowerShell, Pester, the Bicep CLI and Node 22 (.tools/, ignored by
// git), and how the test runners find them. One place, so the installer and every consumer agree.
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const TOOLS_DIR = path.join(ROOT, '.tools');

// node22: the service deploys on Node 22 while the tests run on the Node in PATH (20 here); the
// npm registry serves Node's own binaries as the node-<os>-<arch> packages.
const VERSIONS = { pwsh: '7.6.9', pester: '5.7.1', bicep: '0.49.2', node22: '22.23.3' };

/** NuGet runtime id of the Bicep CLI package for this machine (Azure.Bicep.CommandLine.<rid>). */
function bicepRid(platform = process.platform, arch = process.arch) {
  const os = platform === 'win32' ? 'win' : platform === 'darwin' ? 'osx' : 'linux';
  return `${os}-${arch === 'arm64' ? 'arm64' : 'x64'}`;
}

/** npm package holding Node's binary for this machine (node-<os>-<arch>). */
function nodePackage(platform = process.platform, arch = process.arch) {
  const os = platform === 'win32' ? 'win' : platform;
  return `node-${os}-${arch}`;
}

const exe = (name) => (process.platform === 'win32' ? `${name}.exe` : name);

/** The expected location of each tool, whether or not it is installed. */
function toolLocations(toolsDir = TOOLS_DIR) {
  const nuget = path.join(toolsDir, 'nuget');
  return {
    pwsh: path.join(toolsDir, 'pwsh', exe('pwsh')),
    pester: path.join(nuget, 'pester', VERSIONS.pester, 'tools', 'Pester.psd1'),
    bicep: path.join(nuget, `azure.bicep.commandline.${bicepRid()}`, VERSIONS.bicep, 'tools', exe('bicep')),
    node22: path.join(toolsDir, 'node22', 'package', 'bin', exe('node')),
  };
}

/**
 * The tools that are installed: each path, or null when the file is missing. `npm run tools`
 * records the versions it verified in .tools/tools.json; a tool counts only when that record
 * names the pinned version (so a half-finished or outdated install is reported as missing).
 */
function installedTools(toolsDir = TOOLS_DIR) {
  const at = toolLocations(toolsDir);
  let verified = {};
  try {
    verified = JSON.parse(readFileSync(path.join(toolsDir, 'tools.json'), 'utf8'));
  } catch {
    verified = {};
  }
  const pick = (name) => (existsSync(at[name]) && verified[name] === VERSIONS[name] ? at[name] : null);
  return { pwsh: pick('pwsh'), pester: pick('pester'), bicep: pick('bicep'), node22: pick('node22') };
}

/** True where CI (or the developer) asked for a run that fails when a tool is missing. */
function toolsRequired(env = process.env) {
  return env.POSTURE_REQUIRE_TOOLS === '1';
}

const HOW_TO_GET_TOOLS = 'run `npm run tools` (needs the .NET SDK; installs into .tools/)';

/** Test files that need a tool, and what they are called in the one line printed when it is missing. */
const TOOL_GATED_TESTS = [
  { what: 'the collector tests (Pester suite, end to end under pwsh)', need: ['pwsh', 'pester'], files: ['test/collector/pester.test.ts', 'test/collector/end-to-end*.test.ts'] },
  { what: 'the infra tests (compiled Bicep)', need: ['bicep'], files: ['test/infra/**/*.test.ts'] },
];

/**
 * The test files to leave out because a tool they need is missing, after printing one line per
 * group saying so. With POSTURE_REQUIRE_TOOLS=1 (CI) a missing tool is an error instead.
 */
function testsWithoutTools(env = process.env, log = console.warn) {
  const tools = installedTools();
  const excluded = [];
  for (const group of TOOL_GATED_TESTS) {
    const missing = group.need.filter((name) => !tools[name]);
    if (missing.length === 0) continue;
    const line = `${group.what} did not run: ${missing.join(' and ')} not installed; ${HOW_TO_GET_TOOLS}.`;
    if (toolsRequired(env)) throw new Error(`${line} (POSTURE_REQUIRE_TOOLS=1)`);
    log(line);
    excluded.push(...group.files);
  }
  return excluded;
}

module.exports = { ROOT, TOOLS_DIR, VERSIONS, HOW_TO_GET_TOOLS, bicepRid, nodePackage, toolLocations, installedTools, toolsRequired, testsWithoutTools };
