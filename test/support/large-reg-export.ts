// A whole-hive-sized regedit export, written to disk in pieces: what an admin gets from
// `reg export HKLM\SOFTWARE` (hundreds of MB, UTF-16LE with BOM), with the keys the rules read
// (those of a fixture) in the middle of thousands of keys no rule reads, values of every type, long
// hex data wrapped as regedit wraps it. Used by the memory test and `bench/reg-export-memory.ts`.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

const CRLF = '\r\n';

/** hex data as regedit writes it: "hex(t):" then bytes, wrapped with ",\" at about 80 columns, indented by two. */
function wrappedHex(prefix: string, bytes: Uint8Array): string {
  let out = prefix;
  let column = prefix.length;
  bytes.forEach((b, i) => {
    const item = b.toString(16).padStart(2, '0') + (i < bytes.length - 1 ? ',' : '');
    if (column + item.length > 77 && i < bytes.length - 1) {
      out += '\\' + CRLF + '  ';
      column = 2;
    }
    out += item;
    column += item.length;
  });
  return out;
}

function utf16z(text: string): Uint8Array {
  return Buffer.from(text + '\0', 'utf16le');
}

/** One filler key with values of every type regedit writes. */
function fillerKey(n: number): string {
  const path = `HKEY_LOCAL_MACHINE\\SOFTWARE\\Filler Vendor ${n % 97}\\Product ${n % 13}\\Component ${n}`;
  const binary = Uint8Array.from({ length: 200 + (n % 300) }, (_, i) => (i * 31 + n) & 0xff);
  const lines = [
    `[${path}]`,
    `@="Default of ${n}"`,
    `"InstallPath"="C:\\\\Program Files\\\\Filler ${n}\\\\bin\\\\"`,
    `"Quoted"="say \\"hello\\" ${n}"`,
    `"Version"=dword:${(n * 7919).toString(16).padStart(8, '0').slice(-8)}`,
    wrappedHex(`"Blob"=hex:`, binary),
    wrappedHex(`"Expand"=hex(2):`, utf16z(`%ProgramFiles%\\Filler\\${n}\\data`)),
    wrappedHex(`"List"=hex(7):`, Buffer.concat([utf16z(`first-${n}`), utf16z('second'), utf16z(`third ${n}`), Buffer.from([0, 0])])),
    `"Big"=hex(b):${Array.from({ length: 8 }, (_, i) => ((n >> (i * 4)) & 0xff).toString(16).padStart(2, '0')).join(',')}`,
    `"None"=hex(0):`,
    `"Dword2"=hex(4):01,02,03,04`,
    '',
  ];
  return lines.join(CRLF) + CRLF;
}

/**
 * Writes a UTF-16LE (with BOM) export of at least `megabytes` MB to `file`: the body of `fixture`
 * (a .reg file) between two halves of filler keys. Returns the file's size in bytes.
 */
export function writeLargeRegExport(file: string, megabytes: number, fixture: string): number {
  const fixtureText = readFileSync(fixture).subarray(2).toString('utf16le');
  const body = fixtureText.replace(/^Windows Registry Editor Version 5\.00\r?\n/, '');
  const target = megabytes * 1024 * 1024;
  const fd = openSync(file, 'w');
  let size = 0;
  const write = (text: string): void => {
    const bytes = Buffer.from(text, 'utf16le');
    writeSync(fd, bytes);
    size += bytes.length;
  };
  try {
    writeSync(fd, Buffer.from([0xff, 0xfe]));
    size = 2;
    write('Windows Registry Editor Version 5.00' + CRLF + CRLF);
    let n = 0;
    let chunk = '';
    let fixtureWritten = false;
    while (size + chunk.length * 2 < target) {
      chunk += fillerKey(n++);
      if (chunk.length > 1 << 18) {
        write(chunk);
        chunk = '';
      }
      if (!fixtureWritten && size >= target / 2) {
        write(chunk + body + CRLF);
        chunk = '';
        fixtureWritten = true;
      }
    }
    write(chunk + (fixtureWritten ? '' : body + CRLF));
  } finally {
    closeSync(fd);
  }
  return size;
}
