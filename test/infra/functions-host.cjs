// Loads a function app folder the way the Azure Functions Node.js worker does: it provides the
// host's `@azure/functions-core` module, requires every file that package.json "main" matches
// (a glob, like the worker), then asks the programming model for its capabilities, which is when
// the real host learns whether HTTP streaming is on. Prints what it saw as JSON.
// Usage: node functions-host.cjs <app folder> <glob module path>
'use strict';
const Module = require('node:module');
const path = require('node:path');

const appDir = path.resolve(process.argv[2]);
const { glob } = require(process.argv[3]);
const registered = [];
let model;
const core = {
  version: '3.10.1',
  setProgrammingModel(m) {
    model = m;
  },
  getProgrammingModel() {
    return model;
  },
  registerFunction(metadata) {
    registered.push({ name: metadata.name, bindings: metadata.bindings });
    return { dispose() {} };
  },
  registerHook() {
    return { dispose() {} };
  },
  log() {},
};
const originalLoad = Module._load;
Module._load = function load(request, ...rest) {
  return request === '@azure/functions-core' ? core : originalLoad.call(this, request, ...rest);
};

(async () => {
  const main = require(path.join(appDir, 'package.json')).main;
  const files = (await glob(main, { cwd: appDir, absolute: true })).sort();
  for (const file of files) require(file);
  const capabilities = model ? await model.getCapabilities({}) : {};
  process.stdout.write(JSON.stringify({ main, files: files.map((f) => path.relative(appDir, f).split(path.sep).join('/')), registered, capabilities }));
  process.exit(0);
})().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
