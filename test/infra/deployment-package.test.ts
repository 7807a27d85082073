// The deployment package, built as `npm run package` builds it for azd, and loaded the way the
// Functions host loads it: every file package.json "main" matches, HTTP streaming switched on by
// dist/src/index.js, every function the code registers registered; and nothing a server does not
// need (no devDependencies, no sources, no tests).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ignore from 'ignore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import yauzl from 'yauzl';
import { STAGE, listFiles, stagePackage, zipFolder } from '../../scripts/package.cjs';
import { ROUTES } from '../../src/app/routes';
import { TIMERS } from '../../src/app/timers';
import { dig, REPO_ROOT } from './arm';

const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  main: string;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const FUNCTION_SOURCES = readdirSync(path.join(REPO_ROOT, 'src', 'functions')).filter((f) => f.endsWith('.ts'));

/** The functions the code registers: every route of the route table and every timer. */
function registrationsInSource(): string[] {
  return [...ROUTES.map((r) => r.name), ...TIMERS.map((t) => t.name)];
}

function zipEntries(zipPath: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(zipPath, { lazyEntries: true }, (error, zip) => {
      if (error || !zip) return reject(error ?? new Error('no zip'));
      const names: string[] = [];
      zip.on('entry', (entry: yauzl.Entry) => {
        names.push(entry.fileName);
        zip.readEntry();
      });
      zip.on('end', () => resolve(names));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

interface HostRun {
  readonly main: string;
  readonly files: string[];
  readonly registered: { name: string }[];
  readonly capabilities: Record<string, string>;
}

const work = mkdtempSync(path.join(tmpdir(), 'posture-package-'));
const stage = path.join(work, 'api');
let entries: string[];
let host: HostRun;

beforeAll(async () => {
  // The whole build, as `npm run package` runs it: the service and the dashboard's page files.
  const build = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' });
  expect(build.status, build.stdout + build.stderr).toBe(0);
  stagePackage(stage);
  entries = await zipEntries(await zipFolder(stage, path.join(work, 'api.zip')));
  const globModule = createRequire(path.join(REPO_ROOT, 'package.json')).resolve('glob');
  const run = spawnSync(process.execPath, [path.join(__dirname, 'functions-host.cjs'), stage, globModule], { encoding: 'utf8', timeout: 60_000 });
  expect(run.status, run.stderr).toBe(0);
  host = JSON.parse(run.stdout) as HostRun;
}, 240_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the deployment package (npm run package)', () => {
  it('holds host.json, package.json, the compiled entry and every compiled function at its root', () => {
    expect(entries).toEqual(expect.arrayContaining(['host.json', 'package.json', 'dist/src/index.js']));
    for (const f of FUNCTION_SOURCES) expect(entries, f).toContain(`dist/src/functions/${f.replace(/\.ts$/, '.js')}`);
    expect(entries.sort()).toEqual(listFiles(stage).sort());
  });

  it("holds the dashboard's page: every static file, every compiled browser module and every rule guide", () => {
    const dir = path.join(REPO_ROOT, 'src', 'dashboard');
    const expected = [
      ...readdirSync(path.join(dir, 'static')),
      // The guides results link to, rendered from docs/rules at build time (the app must work offline).
      ...readdirSync(path.join(REPO_ROOT, 'docs', 'rules')).map((f) => `guide-${f.replace(/\.md$/, '.html')}`),
      ...readdirSync(path.join(dir, 'web')).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => f.replace(/\.ts$/, '.js')),
    ];
    expect(expected.length).toBeGreaterThan(3);
    for (const f of expected) expect(entries, f).toContain(`dist/src/dashboard/public/${f}`);
  });

  it('holds every production dependency and no devDependency', () => {
    for (const name of Object.keys(pkg.dependencies)) expect(entries, name).toContain(`node_modules/${name}/package.json`);
    const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = new Set(Object.entries(lock.packages).filter(([p, m]) => p.startsWith('node_modules/') && m.dev).map(([p]) => p));
    for (const name of Object.keys(pkg.devDependencies)) expect(devOnly.has(`node_modules/${name}`), name).toBe(true);
    const shipped = new Set(entries.map((e) => /^((?:node_modules\/(?:@[^/]+\/)?[^/]+\/?)+)/.exec(e)?.[1]?.replace(/\/$/, '')).filter(Boolean));
    expect([...shipped].filter((p) => devOnly.has(p!))).toEqual([]);
  });

  it('holds no sources, tests, scripts, tools or infrastructure', () => {
    const stray = entries.filter((e) => !e.startsWith('node_modules/') && (/\.ts$|\.map$/.test(e) || /^(src|test|collector|infra|scripts|bench|docs|bin|\.tools|\.deploy)\//.test(e)));
    expect(stray).toEqual([]);
    expect(entries.filter((e) => e.startsWith('dist/') && !e.startsWith('dist/src/'))).toEqual([]);
  });
});

describe('compiled code whose source is gone', () => {
  it('is left out of the package (tsc never deletes it, and the host would register it), and the rest is kept', () => {
    // A small project as an old checkout leaves it: a function deleted from src/ still in dist/.
    const root = mkdtempSync(path.join(tmpdir(), 'posture-stale-'));
    const put = (rel: string, text = '') => {
      mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      writeFileSync(path.join(root, rel), text);
    };
    put('.funcignore', '*.ts\n/src/\n.funcignore\n');
    put('package-lock.json', JSON.stringify({ packages: {} }));
    put('package.json', '{}');
    put('src/functions/http.ts');
    put('dist/src/functions/http.js');
    put('dist/src/functions/deleted-long-ago.js');
    put('dist/src/dashboard/public/main.js');
    try {
      const staged = stagePackage(path.join(work, 'stale-stage'), root);
      expect(staged.sort()).toEqual(['dist/src/dashboard/public/main.js', 'dist/src/functions/http.js', 'package-lock.json', 'package.json']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the package as the Functions host loads it', () => {
  it('loads the entry file and every function file that "main" matches', () => {
    expect(host.main).toBe(pkg.main);
    expect(host.files).toContain('dist/src/index.js');
    for (const f of FUNCTION_SOURCES) expect(host.files, f).toContain(`dist/src/functions/${f.replace(/\.ts$/, '.js')}`);
  });

  it('turns HTTP streaming on, so bodies reach the handler as streams and the size limit holds while reading', () => {
    expect(host.capabilities.HttpUri, 'app.setup({ enableHttpStream: true }) ran before the host asked').toMatch(/^http:\/\/localhost:\d+\/$/);
  });

  it('registers every function the code declares, each once', () => {
    const declared = registrationsInSource();
    // The names come from the tables the function files register.
    expect(declared.length).toBeGreaterThanOrEqual(FUNCTION_SOURCES.length);
    expect(host.registered.map((r) => r.name).sort()).toEqual([...declared].sort());
    expect(new Set(declared).size).toBe(declared.length);
    console.log(`functions host: ${host.registered.length} functions registered from ${host.files.length} files, HTTP streaming on`);
  });
});

describe('azd deploys that package', () => {
  it('azure.yaml builds locally, runs npm run package after the build and deploys the staged folder', () => {
    const api = dig(parseYaml(readFileSync(path.join(REPO_ROOT, 'azure.yaml'), 'utf8')), 'services', 'api');
    expect(api).toMatchObject({ project: '.', language: 'ts', host: 'function', remoteBuild: false });
    expect(path.resolve(REPO_ROOT, String(dig(api, 'dist')))).toBe(STAGE);
    for (const os of ['posix', 'windows']) expect(dig(api, 'hooks', 'postbuild', os, 'run')).toBe('npm run package');
    expect(pkg.scripts.package).toMatch(/npm run build && node scripts\/package\.cjs$/);
  });

  it('.funcignore, which azd also applies, never drops the dependencies the package carries', () => {
    const ig = ignore().add(readFileSync(path.join(REPO_ROOT, '.funcignore'), 'utf8'));
    const kept = entries.filter((e) => ig.ignores(e));
    expect(kept).toEqual([]);
  });
});
