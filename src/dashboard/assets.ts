// The dashboard's files as built into dist/src/dashboard/public (index.html, the stylesheet, the
// compiled ES modules), read once per worker into memory with their ETag and a gzip copy. They
// are a few dozen kilobytes; serving from memory keeps each request a map lookup.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export interface Asset {
  readonly name: string;
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly etag: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * Where the built files are: beside this module once compiled (dist/src/dashboard/public), or,
 * when this module runs from its TypeScript source (tests, tsx), in the build output of the tree.
 */
export function publicDir(): string {
  const candidates = [path.join(__dirname, 'public'), path.resolve(__dirname, '..', '..', 'dist', 'src', 'dashboard', 'public')];
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html'))) ?? candidates[0]!;
}

/** Every servable file of a folder (flat: asset names are one path segment). */
export function loadAssets(dir: string): ReadonlyMap<string, Asset> {
  const out = new Map<string, Asset>();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const type = TYPES[path.extname(name)];
    if (!type) continue;
    const body = readFileSync(path.join(dir, name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    out.set(name, { name, type, body, gzip: gzipSync(body, { level: 9 }), etag });
  }
  return out;
}
