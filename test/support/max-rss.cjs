// Preloaded with `node --require` into a child process a test runs: on exit, writes the process's
// peak resident memory (KB) to the file named by MAX_RSS_FILE. The heap cap (--max-old-space-size)
// does not count Buffers and large strings Node keeps outside the JavaScript heap, so a file read
// whole there goes unseen by it; resident memory counts everything.
//
// The peak is Linux's VmHWM, that of this program's own memory. `process.resourceUsage().maxRSS`
// (getrusage) is kept across exec: a child started from a process holding 341 MB reported 304 MB
// though it never held more than 40 MB itself. Elsewhere (no /proc) maxRSS is the best there is.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');

function peakKb() {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]);
  } catch {
    // No /proc: below.
  }
  return process.resourceUsage().maxRSS;
}

const out = process.env.MAX_RSS_FILE;
if (out) process.on('exit', () => writeFileSync(out, String(peakKb())));
