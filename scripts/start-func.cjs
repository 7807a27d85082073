// `npm run start:func`: the app under Azure Functions Core Tools, where they are installed. Core
// Tools are looked for before the build, so a machine without them hears so in one sentence at once
// rather than after the build, as "func: not found" from the shell.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const names = process.platform === 'win32' ? ['func.cmd', 'func.exe', 'func'] : ['func'];

/** The Core Tools executable on PATH, or null. */
function findFunc(searchPath = process.env.PATH ?? '') {
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    for (const name of names) if (existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

function main() {
  const func = findFunc();
  if (!func) {
    console.error('Azure Functions Core Tools (func) are not on PATH: install them (npm i -g azure-functions-core-tools@4, or see https://learn.microsoft.com/azure/azure-functions/functions-run-local), or use "npm start", which needs none.');
    return 1;
  }
  const shell = process.platform === 'win32';
  const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell });
  if (build.status !== 0) return build.status ?? 1;
  return spawnSync(func, ['start', ...process.argv.slice(2)], { stdio: 'inherit', shell }).status ?? 1;
}

if (require.main === module) process.exit(main());
module.exports = { findFunc };
