#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript (npm run build).
'use strict';
const path = require('node:path');
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
let main;
try {
  main = require(entry).main;
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes('cli')) {
    process.stderr.write('fleet-posture: not built yet; run `npm run build` first.\n');
    process.exit(2);
  }
  throw err;
}
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
