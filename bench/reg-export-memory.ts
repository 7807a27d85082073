// `node dist/bench/reg-export-memory.js [MB] [file]`: writes a large regedit export (see
// test/support/large-reg-export.ts) for measuring import-reg's memory, e.g. with
//   /usr/bin/time -v node dist/src/cli/main.js import-reg <file> > /dev/null
// Prints the file's path and size.
import os from 'node:os';
import path from 'node:path';
import { writeLargeRegExport } from '../test/support/large-reg-export';

const ROOT = path.resolve(__dirname, '..', '..');
const megabytes = Number(process.argv[2] ?? 80);
const file = process.argv[3] ?? path.join(os.tmpdir(), `large-export-${megabytes}mb.reg`);
const size = writeLargeRegExport(file, megabytes, path.join(ROOT, 'test', 'fixtures', 'reg', 'EXCH16-vse88-not-excluded.reg'));
console.log(`${file}\t${(size / 1024 / 1024).toFixed(1)} MB`);
