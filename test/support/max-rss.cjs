// Preloaded with `node --require` into a child process a test runs: on exit, writes the process's
// peak resident memory (KB) to the file named by MAX_RSS_FILE. The heap cap (--max-old-space-size)
// does not count Buffers and large strings Node keeps outside the JavaScript heap, so a file read
// whole there goes unseen by it; resident memory counts everything.
'use strict';
const { writeFileSync } = require('node:fs');

const out = process.env.MAX_RSS_FILE;
if (out) process.on('exit', () => writeFileSync(out, String(process.resourceUsage().maxRSS)));
