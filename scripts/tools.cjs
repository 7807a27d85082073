#!/usr/bin/env node
// `npm run tools`: PowerShell (a .NET tool), Pester and the Bicep CLI (NuGet packages), and Node 22
// (an npm package) into .tools/, nothing global. Idempotent: a tool already there at its pinned version is not fetched
// again. Prints one line per tool and exits 1 when any could not be installed.
'use strict';
const { spawnSync } = require('node:child_process');
const { mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } = require('node:fs');
const path = require('node:path');
const { TOOLS_DIR, VERSIONS, bicepRid, nodePackage, toolLocations } = require('./tool-paths.cjs');

const env = { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1', DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1' };
const at = toolLocations();
const recordPath = path.join(TOOLS_DIR, 'tools.json');

function run(command, args) {
  const r = spawnSync(command, args, { env, encoding: 'utf8' });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return { ok: r.status === 0, output: r.error ? String(r.error.message) : output, command: [command, ...args].join(' ') };
}

function readRecord() {
  try {
    return JSON.parse(readFileSync(recordPath, 'utf8'));
  } catch {
    return {};
  }
}

/** The version a tool reports, or null when it does not run. */
function versionOf(name) {
  if (!existsSync(at[name])) return null;
  if (name === 'pwsh') return /PowerShell (\S+)/.exec(run(at.pwsh, ['-NoProfile', '-NoLogo', '-Version']).output)?.[1] ?? null;
  if (name === 'bicep') return /Bicep CLI version (\S+)/.exec(run(at.bicep, ['--version']).output)?.[1] ?? null;
  if (name === 'node22') return /^v(\S+)/.exec(run(at.node22, ['--version']).output)?.[1] ?? null;
  const manifest = readFileSync(at.pester, 'utf8');
  return /ModuleVersion\s*=\s*'([^']+)'/.exec(manifest)?.[1] ?? null;
}

function installPwsh() {
  const dir = path.dirname(at.pwsh);
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  return run('dotnet', ['tool', 'install', 'PowerShell', '--version', VERSIONS.pwsh, '--tool-path', dir]);
}

/**
 * Node 22 from the npm registry (the only place this machine and CI reach): `npm pack` fetches the
 * node-<os>-<arch> package through npm, as `npm ci` fetches every dependency; tar unpacks it (tar
 * ships with Windows 10 and later too). The version it reports is checked before it counts.
 */
function installNode22() {
  const dir = path.join(TOOLS_DIR, 'node22');
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Under `npm run` the npm that runs us is named by npm_execpath (spawning npm.cmd on Windows
  // would need a shell).
  const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
  const pack = run(npm[0], [...npm.slice(1), 'pack', `${nodePackage()}@${VERSIONS.node22}`, '--pack-destination', dir, '--silent']);
  if (!pack.ok) return pack;
  const tarball = path.join(dir, pack.output.split(/\r?\n/).pop());
  const unpack = run('tar', ['-xzf', tarball, '-C', dir]);
  rmSync(tarball, { force: true });
  return unpack;
}

/** Pester and Bicep are plain NuGet packages: a throwaway project with PackageDownload restores them. */
function restorePackages() {
  const sdk = run('dotnet', ['--version']);
  const major = /^(\d+)\./.exec(sdk.output)?.[1];
  if (!sdk.ok || !major) return { ok: false, output: sdk.output, command: sdk.command };
  const dir = path.join(TOOLS_DIR, 'restore');
  mkdirSync(dir, { recursive: true });
  const project = path.join(dir, 'tools.csproj');
  writeFileSync(
    project,
    `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net${major}.0</TargetFramework></PropertyGroup>
  <ItemGroup>
    <PackageDownload Include="Pester" Version="[${VERSIONS.pester}]" />
    <PackageDownload Include="Azure.Bicep.CommandLine.${bicepRid()}" Version="[${VERSIONS.bicep}]" />
  </ItemGroup>
</Project>
`,
  );
  const r = run('dotnet', ['restore', project, '--packages', path.join(TOOLS_DIR, 'nuget')]);
  if (existsSync(at.bicep)) chmodSync(at.bicep, 0o755);
  return r;
}

function main() {
  mkdirSync(TOOLS_DIR, { recursive: true });
  const record = readRecord();
  const missing = [];
  const attempts = {};
  const have = (name) => record[name] === VERSIONS[name] && versionOf(name) === VERSIONS[name];

  if (!run('dotnet', ['--version']).ok) {
    console.log('tools: the .NET SDK (dotnet) is not on PATH; it installs PowerShell, Pester and Bicep.');
  }
  if (!have('pwsh')) attempts.pwsh = installPwsh();
  if (!have('pester') || !have('bicep')) attempts.packages = restorePackages();
  if (!have('node22')) attempts.node22 = installNode22();

  const next = {};
  for (const name of ['pwsh', 'pester', 'bicep', 'node22']) {
    const found = versionOf(name);
    if (found === VERSIONS[name]) {
      next[name] = found;
      console.log(`tools: ${name} ${found} ${path.relative(process.cwd(), at[name])}`);
    } else {
      missing.push(name);
      const attempt = name === 'pwsh' || name === 'node22' ? attempts[name] : attempts.packages;
      const why = attempt && !attempt.ok ? `\`${attempt.command}\` failed:\n${attempt.output}` : `found ${found ?? 'nothing'} at ${at[name]}`;
      console.log(`tools: MISSING ${name} ${VERSIONS[name]}: ${why}`);
    }
  }
  writeFileSync(recordPath, JSON.stringify(next, null, 2) + '\n');
  if (missing.length > 0) {
    console.log(`tools: could not install ${missing.join(', ')}; the tests that need them will not run.`);
    process.exitCode = 1;
  }
}

main();
