// The dashboard's file server on a folder of its own: which names it serves, and how.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadAssets } from '../../src/dashboard/assets';
import { DashboardFiles, SECURITY_HEADERS, type DashboardRequest } from '../../src/dashboard/serve';

let dir: string;
let files: DashboardFiles;

function req(url: string, asset: string | undefined, headers: Record<string, string> = {}): DashboardRequest {
  const h = new Headers(headers);
  return { method: 'GET', url: `http://localhost:7071${url}`, headers: h, params: asset === undefined ? {} : { asset } };
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'posture-dashboard-'));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><script type="module" src="dashboard/main.js"></script>');
  writeFileSync(path.join(dir, 'main.js'), 'console.log("main");\n'.repeat(50));
  writeFileSync(path.join(dir, 'dashboard.css'), 'body{margin:0}');
  writeFileSync(path.join(dir, 'notes.txt'), 'not a served type');
  files = new DashboardFiles(loadAssets(dir));
});

describe('dashboard files', () => {
  it('serves the page at /api/dashboard with the security headers', () => {
    const r = files.serve(req('/api/dashboard', undefined));
    expect(r.status).toBe(200);
    expect(r.headers['Content-Type']).toBe('text/html; charset=utf-8');
    expect(Buffer.from(r.body as Uint8Array).toString()).toContain('dashboard/main.js');
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(r.headers[name]).toBe(value);
    const csp = r.headers['Content-Security-Policy']!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(r.headers['X-Content-Type-Options']).toBe('nosniff');
    expect(r.headers['Referrer-Policy']).toBe('no-referrer');
  });

  it('serves the files by name with their types, and nothing else', () => {
    expect(files.serve(req('/api/dashboard/main.js', 'main.js')).headers['Content-Type']).toBe('text/javascript; charset=utf-8');
    expect(files.serve(req('/api/dashboard/dashboard.css', 'dashboard.css')).headers['Content-Type']).toBe('text/css; charset=utf-8');
    for (const name of ['notes.txt', '..%2Fpackage.json', '../package.json', 'missing.js', 'index.html']) {
      const r = files.serve(req(`/api/dashboard/${name}`, name));
      expect(r.status, name).toBe(404);
      expect(r.headers['Content-Security-Policy']).toBe(SECURITY_HEADERS['Content-Security-Policy']);
      expect(String(r.body)).toMatch(/^The dashboard has no file /);
    }
    const nul = files.serve(req('/api/dashboard/%00', 'a\u0000\u001b[31m'));
    expect(nul.status).toBe(404);
    expect(String(nul.body)).toBe('The dashboard has no file "a\\u0000\\u001b[31m".');
  });

  it('sends /api/dashboard/ to /api/dashboard, where the page\'s relative links resolve', () => {
    const r = files.serve(req('/api/dashboard/', undefined));
    expect(r.status).toBe(308);
    expect(new URL(r.headers.Location!, 'http://localhost:7071/api/dashboard/').pathname).toBe('/api/dashboard');
  });

  it('answers 304 to a matching If-None-Match and gzip to clients that accept it', () => {
    const first = files.serve(req('/api/dashboard/main.js', 'main.js'));
    const etag = first.headers.ETag!;
    expect(files.serve(req('/api/dashboard/main.js', 'main.js', { 'if-none-match': etag })).status).toBe(304);
    expect(files.serve(req('/api/dashboard/main.js', 'main.js', { 'if-none-match': '"other"' })).status).toBe(200);
    const gz = files.serve(req('/api/dashboard/main.js', 'main.js', { 'accept-encoding': 'br, gzip;q=0.8' }));
    expect(gz.headers['Content-Encoding']).toBe('gzip');
    expect(gunzipSync(gz.body as Uint8Array).equals(first.body as Buffer)).toBe(true);
    expect(files.serve(req('/api/dashboard/main.js', 'main.js', { 'accept-encoding': 'gzip;q=0, br' })).headers['Content-Encoding']).toBeUndefined();
  });

  it('says so when the build output is missing', () => {
    const empty = new DashboardFiles(loadAssets(path.join(dir, 'does-not-exist')));
    const r = empty.serve(req('/api/dashboard', undefined));
    expect(r.status).toBe(500);
    expect(String(r.body)).toContain('npm run build');
  });
});
