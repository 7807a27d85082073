// The documentation stands alone: no file points outside the repository, every relative link in a
// Markdown file reaches a file (and, for a Markdown target with an anchor, a heading) that exists,
// the README stays a first screen, and what the docs list (tables, settings and their defaults,
// error codes, jobs, timers, rule versions in examples) is what the code has.
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { globSync } from 'glob';
import { describe, expect, it } from 'vitest';
import { API_ERROR_STATUS } from '../../src/app/errors';
import { HOST_REFRESH_MS } from '../../src/app/ingest';
import { JOBS } from '../../src/app/lifecycle-api';
import { ROUTES } from '../../src/app/routes';
import { loadSettings, SETTING_NAMES, type SettingName, type Settings } from '../../src/app/settings';
import { TIMERS } from '../../src/app/timers';
import { RULES } from '../../src/rules/registry';
import { TABLES } from '../../src/store';
import { anchorsOf, markdownLinks } from '../../scripts/markdown.cjs';

const ROOT = path.resolve(__dirname, '..', '..');
const IGNORE = ['node_modules/**', 'dist/**', '.tools/**', '.azurite/**', '.azure/**', 'coverage/**', 'test-results/**', '.stryker-tmp/**', 'reports/mutation/**', '.git/**'];
const TEXT_FILES = globSync('**/*.{md,ts,mts,cts,js,cjs,mjs,ps1,psd1,pq,json,yml,yaml,bicep,html,css}', { cwd: ROOT, dot: true, ignore: [...IGNORE, 'package-lock.json'] });
const MARKDOWN = TEXT_FILES.filter((f) => f.endsWith('.md'));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/**
 * Pointers to the specification folder that lives outside this repository (spelt in pieces so
 * this file holds none). src/rules/common is the repository's own; a relative link that leaves
 * the repository is caught by the link check below.
 */
const OUTSIDE = [['shared', 'docs'], ['', 'work', 'shared']].map((parts) => parts.join('/'));

describe('the repository stands alone', () => {
  it('finds the documentation to check', () => {
    expect(MARKDOWN).toEqual(expect.arrayContaining(['README.md', 'docs/api.md', 'docs/rules/mcafee-port25-blocked.md', 'collector/README.md']));
  });

  it('no file refers to documents outside the repository', () => {
    const offenders = TEXT_FILES.flatMap((f) => {
      const text = read(f).toLowerCase();
      return OUTSIDE.filter((pointer) => text.includes(pointer)).map((pointer) => `${f}: ${pointer}`);
    });
    expect(offenders).toEqual([]);
  });

  it('no file points at a tracker issue by number (comments and docs say why in words)', () => {
    // An issue number, with or without "#"; not the verb ("issues 32 random bytes"). The samples
    // are put together at run time so this file holds none.
    const samples = [['see issue', '12'], ['issues', '#3'], ['Issue', '#7']].map((parts) => parts.join(' '));
    expect(samples.every((t) => /\bissue #?\d+\b|\bissues #\d+/i.test(t))).toBe(true);
    expect(/\bissue #?\d+\b|\bissues #\d+/i.test(['issues', '32 random bytes'].join(' '))).toBe(false);
    const offenders = TEXT_FILES.filter((f) => /\bissue #?\d+\b|\bissues #\d+/i.test(read(f)));
    expect(offenders).toEqual([]);
  });

  it('tracks no symbolic link (a link to a folder outside, such as .tools, would replace that folder on checkout)', () => {
    const links = execFileSync('git', ['ls-files', '-s'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.startsWith('120000 '))
      .map((line) => line.split('\t')[1]);
    expect(links).toEqual([]);
  });

  it('every relative link in a Markdown file resolves, anchors included', () => {
    const broken: string[] = [];
    for (const file of MARKDOWN) {
      for (const href of markdownLinks(read(file))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // http:, https:, mailto:
        const [target = '', anchor] = href.split('#');
        const resolved = target === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), decodeURIComponent(target)));
        const full = path.join(ROOT, resolved);
        if (resolved.startsWith('..') || !existsSync(full)) {
          broken.push(`${file}: ${href} (no such file)`);
          continue;
        }
        if (anchor && resolved.endsWith('.md') && statSync(full).isFile() && !anchorsOf(read(resolved)).has(anchor)) {
          broken.push(`${file}: ${href} (no such heading in ${resolved})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('the link check finds a broken link and a broken anchor (the check works)', () => {
    expect(markdownLinks('see [a](docs/a.md#b) and ![p](x.png "t") and `[not](code)`')).toEqual(['docs/a.md#b', 'x.png']);
    // Link text wrapped onto the next line of its paragraph is a link; a bracket that a blank line separates from "(…)" is not.
    expect(markdownLinks('what to do: [What to do, per reason\ncode](#what-to-do) and [not\n\na](link)')).toEqual(['#what-to-do']);
    expect(anchorsOf('# Title\n## What to do, per reason code\n### `SmtpNotExcluded`\n## Title\n```\n# not a heading\n```\n').has('what-to-do-per-reason-code')).toBe(true);
    const anchors = anchorsOf('# Title\n### `SmtpNotExcluded`\n## Title\n```\n# not a heading\n```\n');
    expect([...anchors]).toEqual(['title', 'smtpnotexcluded', 'title-1']);
  });
});

describe('the README is a first screen', () => {
  const readme = read('README.md');

  it('is at most 15 KB', () => {
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(15 * 1024);
  });

  it('keeps the set-up commands, the test command and a picture', () => {
    expect(readme).toMatch(/^npm ci\b/m);
    expect(readme).toMatch(/^npm start\b/m);
    expect(readme).toMatch(/`npm test`/);
    expect(readme).toMatch(/!\[[^\]]+\]\(docs\/dashboard\.png\)/);
  });

  it('explains every status and the difference between status and severity', () => {
    for (const status of ['Pass', 'Warning', 'Error', 'NotApplicable', 'Unknown']) expect(readme).toContain(`| \`${status}\` |`);
    expect(readme).toMatch(/Severity is not status/);
  });

  it('maps every document in docs/', () => {
    const docs = MARKDOWN.filter((f) => f.startsWith('docs/') && !f.startsWith('docs/rules/'));
    for (const doc of docs) expect(readme, doc).toContain(`](${doc})`);
  });
});

describe('the deploy guide', () => {
  it('names every table the store uses', () => {
    const deploy = read('docs/deploy.md');
    for (const table of Object.values(TABLES)) expect(deploy, table).toMatch(new RegExp(`\\b${table}\\b`));
  });

  it('describes every parameter of infra/main.bicep in its Parameters section', () => {
    const deploy = read('docs/deploy.md');
    const start = deploy.indexOf('## Parameters');
    const section = start < 0 ? '' : deploy.slice(start, deploy.indexOf('\n## ', start + 1));
    const params = [...read('infra/main.bicep').matchAll(/^param (\w+)/gm)].map((m) => m[1]!);
    expect(params.length).toBeGreaterThan(0);
    expect(params.filter((name) => !section.includes(`\`${name}\``))).toEqual([]);
  });
});

describe('the collector README', () => {
  const readme = read('collector/README.md');

  it('lists exactly the exit codes the scripts use', () => {
    const table = readme.slice(readme.indexOf('## Exit codes'));
    const documented = new Set([...table.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1])));
    const scripts = ['collector/Send-PostureSnapshot.ps1', 'collector/Private/Run.ps1', 'collector/Private/Enrolment.ps1'].map(read).join('\n');
    const used = new Set([
      ...[...scripts.matchAll(/\bexit (\d+)/g)].map((m) => Number(m[1])),
      ...[...scripts.matchAll(/ExitCode = (\d+)/g)].map((m) => Number(m[1])),
      // Get-PostureEnrolmentExitCode returns the codes of runs that did not deliver.
      ...[...scripts.slice(scripts.indexOf('function Get-PostureEnrolmentExitCode')).slice(0, 1200).matchAll(/return (\d+)/g)].map((m) => Number(m[1])),
    ]);
    expect([...documented].sort()).toEqual([...used].sort());
  });

  it('covers what a Windows admin needs', () => {
    for (const heading of ['Before you start: endpoint and enrolment secret', 'Install on one server', 'Roll out to a fleet', 'Proxy', 'Check that the first post arrived', 'Uninstall']) {
      expect(readme).toContain(`## ${heading}`);
    }
    expect(readme).toMatch(/https only/);
    expect(readme).toMatch(/-AllowLoopbackHttp/);
    expect(readme).toMatch(/POSTURE_ENROLMENT_SECRETS/);
  });
});

describe('docs/api.md', () => {
  it('lists every route exactly as the route table has it, and no other', () => {
    const api = read('docs/api.md');
    const rows = [...api.matchAll(/^\| ((?:`[A-Z]+`(?:, )?)+) \| `\/api\/([^`]+)` \|/gm)].map((m) => `${[...m[1]!.matchAll(/`([A-Z]+)`/g)].map((x) => x[1]).join('|')} ${m[2]}`);
    expect(rows.sort()).toEqual(ROUTES.map((r) => `${r.methods.join('|')} ${r.route}`).sort());
  });

  it('names, for every route, the key its access asks for', () => {
    const api = read('docs/api.md');
    // What the key column says for each access, as a reader of the table would ask for it.
    const named: Record<(typeof ROUTES)[number]['access'], RegExp> = {
      public: /^none\b/,
      enrol: /^enrolment secret$/,
      ingest: /^server key$/,
      collector: /^server, reader or admin key$/,
      read: /^reader$/,
      admin: /^admin$/,
    };
    const rows = [...api.matchAll(/^\| ((?:`[A-Z]+`(?:, )?)+) \| `\/api\/([^`]+)` \| ([^|]+) \|/gm)];
    const keyOf = new Map(rows.map((m) => [`${[...m[1]!.matchAll(/`([A-Z]+)`/g)].map((x) => x[1]).join('|')} ${m[2]}`, m[3]!.trim()]));
    for (const r of ROUTES) {
      // An access this table does not know would make the check below vacuous.
      expect(named[r.access], `${r.route}: ${r.access}`).toBeInstanceOf(RegExp);
      expect(keyOf.get(`${r.methods.join('|')} ${r.route}`), r.route).toMatch(named[r.access]);
    }
  });
});


describe('docs/api.md, against the code', () => {
  const api = read('docs/api.md');

  it('lists every error code with its HTTP status', () => {
    const missing = Object.entries(API_ERROR_STATUS)
      .map(([code, status]) => `${status} ${code}`)
      .filter((entry) => !api.includes(`\`${entry}\``));
    expect(missing).toEqual([]);
  });

  it('lists every error code the local host answers itself, with a status', () => {
    const own = new Set([...read('src/local/host.ts').matchAll(/error: '([a-z_]+)'/g)].map((m) => m[1]!));
    expect(own.size).toBeGreaterThan(3);
    expect([...own].filter((code) => !new RegExp(`\`\\d{3} ${code}\``).test(api))).toEqual([]);
  });

  it('names exactly the jobs the run-a-job route runs', () => {
    const row = api.split('\n').find((line) => line.includes('`/api/jobs/{job}/run`')) ?? '';
    const named = [...row.slice(row.lastIndexOf('|', row.length - 2)).matchAll(/`([a-z-]+)`/g)].map((m) => m[1]);
    expect(named.sort()).toEqual([...JOBS].sort());
  });
});

describe('docs/lifecycle.md', () => {
  it('has a row for every timer the service registers', () => {
    const lifecycle = read('docs/lifecycle.md');
    expect(TIMERS.map((t) => t.name).filter((name) => !lifecycle.includes(`| \`${name}\` |`))).toEqual([]);
  });
});

describe('examples show the rule versions the service answers', () => {
  it('every "ruleVersion":"x.y.z" in the README and docs is a loaded rule\'s version', () => {
    const versions = new Set(RULES.map((r) => r.version));
    const stale = MARKDOWN.flatMap((f) => [...read(f).matchAll(/"ruleVersion":\s*"(\d+\.\d+\.\d+)"/g)].map((m) => m[1]!).filter((v) => !versions.has(v)).map((v) => `${f}: ${v}`));
    // History examples may show a later version on purpose (a rule change); only the ingest and read examples are checked.
    expect(stale.filter((entry) => !entry.startsWith('docs/lifecycle.md'))).toEqual([]);
  });
});

describe('the app settings table in docs/deploy.md', () => {
  const deploy = read('docs/deploy.md');
  const section = deploy.slice(deploy.indexOf('## App settings'), deploy.indexOf('\n## ', deploy.indexOf('## App settings') + 1));
  const rows = new Map(
    [...section.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \| ([^|]+) \|/gm)].map((m) => [m[1]!, { defaultText: m[2]!.trim(), bicep: m[3]!.trim() }]),
  );
  /** Which field of Settings each setting fills. */
  const FIELD: Readonly<Record<SettingName, keyof Settings>> = {
    POSTURE_STORAGE_CONNECTION_STRING: 'storageConnectionString',
    POSTURE_TABLE_ENDPOINT: 'tableEndpoint',
    AZURE_CLIENT_ID: 'managedIdentityClientId',
    POSTURE_TABLE_PREFIX: 'tablePrefix',
    POSTURE_INGEST_KEYS: 'ingestKeys',
    POSTURE_READER_KEYS: 'readerKeys',
    POSTURE_ADMIN_KEYS: 'adminKeys',
    POSTURE_MAX_SNAPSHOT_BYTES: 'maxSnapshotBytes',
    POSTURE_STALE_AFTER_MINUTES: 'staleAfterMinutes',
    POSTURE_WAIVER_MAX_DAYS: 'waiverMaxDays',
    POSTURE_REEVALUATE_BATCH_SIZE: 'reevaluateBatchSize',
    POSTURE_ENROLMENT_SECRETS: 'enrolmentSecrets',
    POSTURE_ALLOW_SHARED_INGEST_KEYS: 'allowSharedIngestKeys',
    POSTURE_RATE_LIMIT_BURST: 'rateLimitBurst',
    POSTURE_RATE_LIMIT_PER_MINUTE: 'rateLimitPerMinute',
    POSTURE_CONTINUATION_TOKEN_SECRET: 'continuationTokenSecret',
    POSTURE_REENROLMENT: 'reenrolment',
    POSTURE_PROJECTOR_SCHEDULE: 'projectorSchedule',
    POSTURE_REMEMBERED_ROWS_MB: 'rememberedRowsMb',
  };
  /** A default as the table writes it: — for nothing (unset, empty, an empty list), else the value in backticks. */
  const shown = (value: unknown): string => (value === undefined || value === '' || (Array.isArray(value) && value.length === 0) ? '—' : `\`${String(value)}\``);

  it('lists every setting the code reads, and no other', () => {
    expect([...rows.keys()].sort()).toEqual([...SETTING_NAMES].sort());
  });

  it('gives each the default the code uses when it is absent', () => {
    const defaults = loadSettings({});
    const wrong = SETTING_NAMES.filter((name) => rows.get(name)?.defaultText !== shown(defaults[FIELD[name]])).map((name) => `${name}: doc ${rows.get(name)?.defaultText}, code ${shown(defaults[FIELD[name]])}`);
    expect(wrong).toEqual([]);
  });

  it('names Bicep parameters that infra/main.bicep declares, with the same default', () => {
    const main = read('infra/main.bicep');
    const problems: string[] = [];
    for (const [name, { defaultText, bicep }] of rows) {
      const param = /^`(\w+)`$/.exec(bicep)?.[1];
      if (!param) continue;
      const decl = new RegExp(`^param ${param} \\w+(?: = (.+))?$`, 'm').exec(main);
      if (!decl) {
        problems.push(`${name}: no parameter ${param}`);
        continue;
      }
      const literal = decl[1]?.trim().replace(/^'(.*)'$/, '$1');
      if (literal !== undefined && defaultText !== '—' && `\`${literal}\`` !== defaultText) problems.push(`${name}: ${param} defaults to ${literal}, the doc to ${defaultText}`);
    }
    expect(problems).toEqual([]);
  });
});

describe('files the docs name', () => {
  it('every repository path in backticks exists, or is an output git ignores', () => {
    const missing = MARKDOWN.flatMap((f) =>
      [...read(f).matchAll(/`((?:src|test|infra|scripts|collector|bench|reports|schema|\.ci|\.github)\/[^`\s]*)`/g)]
        .map((m) => m[1]!)
        .filter((p) => !/[*<{…]/.test(p))
        .map((p) => p.replace(/\/$/, ''))
        .filter((p) => !existsSync(path.join(ROOT, p)) && !ignored(p))
        .map((p) => `${f}: ${p}`),
    );
    expect(missing).toEqual([]);
  });
});

/** True when git ignores the path (a file a tool writes, such as a benchmark's results). */
function ignored(file: string): boolean {
  try {
    execFileSync('git', ['check-ignore', '-q', file], { cwd: ROOT });
    return true;
  } catch {
    return false;
  }
}

describe('commands the docs give', () => {
  it('every `npm run <script>` names a script of package.json', () => {
    const scripts = new Set(Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts));
    const unknown = MARKDOWN.flatMap((f) => [...read(f).matchAll(/\bnpm run ([a-z][\w:-]*)/g)].map((m) => m[1]!).filter((s) => !scripts.has(s)).map((s) => `${f}: npm run ${s}`));
    expect(unknown).toEqual([]);
  });
});

describe('environment variables the docs name', () => {
  // The project's own variables (the service's settings, the local tools, the collector's test
  // seam, the benchmarks); platform ones such as PATH or COMPUTERNAME are not the docs' to list.
  const OWN = /\b((?:FLEET_POSTURE|POSTURE|BENCH)_[A-Z0-9_]*[A-Z0-9])\b/g;
  // This file's own samples are no use of a variable.
  const CODE = TEXT_FILES.filter((f) => !f.endsWith('.md') && !f.startsWith('test/docs/'));
  const CODE_DIRS = /^(src|bench|scripts|bin|test|collector)\//;
  const named = (files: string[]) => new Set(files.flatMap((f) => [...read(f).matchAll(OWN)].map((m) => m[1]!)));
  /** What code reads from its environment: process.env.X, env.X, process.env['X'], GetEnvironmentVariable('X'). */
  const readsOf = (text: string) =>
    [...text.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]*)|\[['"]([A-Z][A-Z0-9_]*)['"]\])|GetEnvironmentVariable\('([A-Z][A-Z0-9_]*)'\)/g)].map((m) => (m[1] ?? m[2] ?? m[3])!);
  /**
   * Variables the benchmark sets for the service process it starts (bench/host-child.ts), never a
   * person: not for the docs. Each must still be set by the bench and read by the child.
   */
  const HANDED_TO_CHILDREN = ['BENCH_STORAGE', 'BENCH_TABLE_PREFIX', 'BENCH_WITH_DRIVER'];
  const handedToChildren = new Set(HANDED_TO_CHILDREN);

  it('every one the docs name is one the code uses', () => {
    const used = named(CODE);
    expect([...named(MARKDOWN)].filter((v) => !used.has(v)).sort()).toEqual([]);
  });

  it('every one the code reads is named in the docs, but what the tools hand to their own children', () => {
    const documented = named(MARKDOWN);
    const read_ = new Set(CODE.filter((f) => CODE_DIRS.test(f)).flatMap((f) => readsOf(read(f))).filter((v) => /^(FLEET_POSTURE|POSTURE|BENCH)_/.test(v)));
    expect([...read_].filter((v) => !documented.has(v) && !handedToChildren.has(v)).sort()).toEqual([]);
  });

  it('the readers it looks for are the ones the code uses, and the hand-offs are real (the check works)', () => {
    expect(readsOf("process.env.BENCH_A ?? env.POSTURE_B; process.env['POSTURE_C']; [System.Environment]::GetEnvironmentVariable('FLEET_POSTURE_D')")).toEqual(['BENCH_A', 'POSTURE_B', 'POSTURE_C', 'FLEET_POSTURE_D']);
    const child = readsOf(read('bench/host-child.ts'));
    const parents = read('bench/run.ts') + read('bench/ab.ts');
    expect(HANDED_TO_CHILDREN.filter((v) => !child.includes(v) || !parents.includes(`${v}: `))).toEqual([]);
  });
});

describe('docs/tables.md, the Hosts refresh on the installer schedule', () => {
  // The share of hourly posts that owe the refresh, as the docs give it, from the service's refresh
  // interval and the installer's default random delay (a seeded simulation, so it is the same each run).
  it('about two posts in three owe it (0.63 with the delay drawn for each run)', () => {
    const delay = Number(/\[int\]\$RandomDelayMinutes = (\d+)/.exec(read('collector/Install-PostureCollector.ps1'))?.[1]);
    expect(delay).toBe(50);
    // mulberry32: exact in 32-bit integer arithmetic, so every run draws the same delays.
    let seed = 20261202;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
    const runs = 200_000;
    let refreshes = 0;
    let last = -Infinity;
    for (let k = 0; k < runs; k++) {
      const at = k * 3_600_000 + random() * delay * 60_000;
      if (at - last >= HOST_REFRESH_MS) {
        refreshes++;
        last = at;
      }
    }
    expect((refreshes / runs).toFixed(2)).toBe('0.63');
    expect(read('docs/tables.md').replace(/\s+/g, ' ')).toContain('0.63 in a simulation of 200,000 runs');
  });
});
