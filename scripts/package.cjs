#!/usr/bin/env node
// `npm run package`: the deployment package of the function app, built here (not by a remote
// build on Azure): the project files and the production dependencies only (package-lock.json
// entries not marked dev), less what .funcignore excludes, staged in .deploy/api (the folder
// azure.yaml gives azd as the service's `dist`) and zipped to .deploy/api.zip.
'use strict';
const { copyFileSync, createWriteStream, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync } = require('node:fs');
const path = require('node:path');
const ignore = require('ignore');
const yazl = require('yazl');
const { ROOT } = require('./tool-paths.cjs');

const STAGE = path.join(ROOT, '.deploy', 'api');
const ZIP = path.join(ROOT, '.deploy', 'api.zip');

/** package-lock.json paths (node_modules/...) of the packages production needs. */
function productionPackagePaths(root = ROOT) {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  return Object.entries(lock.packages ?? {})
    .filter(([p, meta]) => p.startsWith('node_modules/') && !meta.dev && !meta.devOptional && !meta.link)
    .map(([p]) => p);
}

/** Copies files, creating a folder only when something is copied into it (no empty src/). */
function copyTree(from, to, skip) {
  const stat = lstatSync(from);
  if (stat.isSymbolicLink()) return;
  if (stat.isDirectory()) {
    for (const name of readdirSync(from)) {
      if (skip(path.join(from, name))) continue;
      copyTree(path.join(from, name), path.join(to, name), skip);
    }
  } else if (stat.isFile()) {
    mkdirSync(path.dirname(to), { recursive: true });
    copyFileSync(from, to);
  }
}

/**
 * Compiled service code whose TypeScript source is gone (deleted or renamed since dist/ was last
 * built): tsc never removes it, and the Functions host would load it as part of the app. The
 * dashboard's page files are built from other sources and are kept.
 */
function staleOutput(root, r) {
  if (!/^dist\/src\/.+\.js$/.test(r) || r.startsWith('dist/src/dashboard/public/')) return false;
  return !existsSync(path.join(root, 'src', r.slice('dist/src/'.length, -'.js'.length) + '.ts'));
}

/** Stages the package in `stage` and returns the staged files, relative, with / separators. */
function stagePackage(stage = STAGE, root = ROOT) {
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  const ig = ignore().add(readFileSync(path.join(root, '.funcignore'), 'utf8'));
  const rel = (p) => path.relative(root, p).split(path.sep).join('/');
  // Project files: everything .funcignore keeps; node_modules is chosen from the lockfile below.
  copyTree(root, stage, (p) => {
    const r = rel(p);
    if (r === 'node_modules') return true;
    if (staleOutput(root, r)) {
      console.warn(`package: left out ${r}: its source src/${r.slice('dist/src/'.length, -'.js'.length)}.ts no longer exists (run npm run build on a clean dist/).`);
      return true;
    }
    return ig.ignores(lstatSync(p).isDirectory() ? `${r}/` : r);
  });
  for (const pkg of productionPackagePaths(root)) {
    const from = path.join(root, pkg);
    if (!existsSync(from)) continue; // an optional dependency for another platform
    // Nested node_modules are entries of their own in the lockfile, copied (or not) on their own;
    // .funcignore's file patterns (*.ts, *.map, *.md) apply here too, as azd applies them.
    copyTree(from, path.join(stage, pkg), (p) => {
      if (path.basename(p) === 'node_modules' || path.basename(p) === '.bin') return true;
      const r = rel(p);
      return ig.ignores(lstatSync(p).isDirectory() ? `${r}/` : r);
    });
  }
  return listFiles(stage);
}

function listFiles(dir, base = dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? listFiles(full, base) : [path.relative(base, full).split(path.sep).join('/')];
  });
}

/** Zips the staged folder (its contents at the zip root, as azd zips `dist`). */
function zipFolder(folder = STAGE, zipPath = ZIP) {
  const zip = new yazl.ZipFile();
  for (const file of listFiles(folder).sort()) zip.addFile(path.join(folder, file), file, { mtime: new Date(0) });
  zip.end();
  return new Promise((resolve, reject) => {
    const out = createWriteStream(zipPath);
    out.on('close', () => resolve(zipPath));
    out.on('error', reject);
    zip.outputStream.pipe(out);
  });
}

module.exports = { STAGE, ZIP, productionPackagePaths, stagePackage, listFiles, zipFolder };

async function main() {
  const stage = process.argv[2] ? path.resolve(process.argv[2]) : STAGE;
  const zipPath = process.argv[3] ? path.resolve(process.argv[3]) : ZIP;
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'index.js'))) {
    console.error('package: dist/src is missing; run `npm run build` first (npm run package does).');
    process.exitCode = 1;
  } else {
    const files = stagePackage(stage);
    await zipFolder(stage, zipPath);
    console.log(`package: ${files.length} files staged in ${path.relative(ROOT, stage)} and zipped to ${path.relative(ROOT, zipPath)}.`);
  }
}

if (require.main === module) {
  main().catch((error) => {
    console.error(`package failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
