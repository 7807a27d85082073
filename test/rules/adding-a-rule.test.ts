// docs/adding-a-rule.md, done: the sources are copied, the rule the page shows is written into its
// folder and the registry gets the page's one import and one entry; nothing else is edited. The
// copy then serves a real local host over Azurite and runs the command line: the new rule is in
// the manifest, the rule catalogue, a server's summary and the command line's verdicts.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as CreateAppModule from '../../src/app/create-app';
import type * as SettingsModule from '../../src/app/settings';
import type * as CliModule from '../../src/cli/main';
import type { Io } from '../../src/cli/io';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import type * as HostModule from '../../src/local/host';
import type * as ManifestModule from '../../src/rules/manifest';
import { snapshot } from '../support/snapshots';
import { createTestApp } from '../support/stack';

const REPO = path.resolve(__dirname, '..', '..');
// Inside the repository (git-ignored), so the copy resolves the same node_modules.
const COPY = path.join(REPO, 'test-results', 'adding-a-rule');
const DOC = readFileSync(path.join(REPO, 'docs', 'adding-a-rule.md'), 'utf8');

/** The page's code block marked `marker` (the text after ```ts). */
function block(marker: string): string {
  const m = new RegExp('```ts ' + marker.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') + '\\n([\\s\\S]*?)```').exec(DOC);
  if (!m?.[1]) throw new Error(`docs/adding-a-rule.md has no block "${marker}"`);
  return m[1];
}

const ruleFile = /```ts file=(\S+)/.exec(DOC)?.[1] ?? '';
const importLine = block('registry').trim();
const entry = block('registry-entry').trim();
const ruleId = /id: '([a-z0-9-]+)'/.exec(block(`file=${ruleFile}`))?.[1] ?? '';

let azurite: AzuriteHandle;
// Modules of the copy, loaded as the service and the CLI load theirs.
type CreateApp = typeof CreateAppModule;
type Host = typeof HostModule;
type Settings = typeof SettingsModule;
type Cli = typeof CliModule;
type Manifest = typeof ManifestModule;
let copy: { createApp: CreateApp; host: Host; settings: Settings; cli: Cli; manifest: Manifest };

beforeAll(async () => {
  rmSync(COPY, { recursive: true, force: true });
  mkdirSync(COPY, { recursive: true });
  cpSync(path.join(REPO, 'src'), path.join(COPY, 'src'), { recursive: true });
  // The rule's folder, exactly as the page shows it.
  mkdirSync(path.dirname(path.join(COPY, ruleFile)), { recursive: true });
  writeFileSync(path.join(COPY, ruleFile), block(`file=${ruleFile}`));
  // The registry: the page's import after the others, its entry at the end of RULES.
  const registryPath = path.join(COPY, 'src', 'rules', 'registry.ts');
  const registry = readFileSync(registryPath, 'utf8');
  const lastImport = registry.lastIndexOf('\nimport ');
  const afterImports = registry.indexOf('\n', lastImport + 1) + 1;
  const withImport = registry.slice(0, afterImports) + importLine + '\n' + registry.slice(afterImports);
  const withEntry = withImport.replace(/(export const RULES: readonly Rule\[\] = \[[^\]]*?)(,?\s*\]);/, (_, list: string) => `${list}, ${entry}];`);
  expect(withEntry).not.toBe(withImport);
  writeFileSync(registryPath, withEntry);

  const at = (p: string) => path.join(COPY, 'src', p);
  copy = {
    createApp: (await import(at('app/create-app.ts'))) as CreateApp,
    host: (await import(at('local/host.ts'))) as Host,
    settings: (await import(at('app/settings.ts'))) as Settings,
    cli: (await import(at('cli/main.ts'))) as Cli,
    manifest: (await import(at('rules/manifest.ts'))) as Manifest,
  };
  azurite = await startAzurite();
}, 120_000);

afterAll(async () => {
  await azurite?.stop();
  rmSync(COPY, { recursive: true, force: true });
});

describe('adding a rule as docs/adding-a-rule.md says', () => {
  it('the page names a rule, its file, its registry import and entry', () => {
    expect(ruleId).toMatch(/^[a-z0-9-]+$/);
    expect(ruleFile).toMatch(new RegExp(`^src/rules/${ruleId}/index\\.ts$`));
    expect(importLine).toMatch(/^import \{ \w+ \} from '\.\/[a-z0-9-]+';$/);
    expect(entry).toMatch(/^\w+$/);
  });

  it('the manifest holds what the new rule needs', () => {
    const built = copy.manifest.buildManifest();
    expect(built.registry.map((r) => r.path)).toContain('HKLM\\SOFTWARE\\Microsoft\\ExchangeServer\\v15\\Setup');
    // The reference manifest of this tree knows nothing of it: the page says to regenerate it.
    const reference = JSON.parse(readFileSync(path.join(REPO, 'collector', 'examples', 'manifest.reference.json'), 'utf8')) as { version: string };
    expect(built.version).not.toBe(reference.version);
  });

  it('the service lists it in the rule catalogue and the summary, and answers it for a posted snapshot', async () => {
    const settings = copy.settings.loadSettings({
      POSTURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
      POSTURE_READER_KEYS: 'reader-key',
      POSTURE_ENROLMENT_SECRETS: 'enrolment-secret',
    });
    // The copy's own createApp, with the limit policies every test's app carries.
    const app = createTestApp({ settings }, copy.createApp.createApp);
    await app.store.ensureTables();
    await app.keyStore.ensureTable();
    const host = await copy.host.startLocalHost({ app, port: 0, log: () => undefined });
    try {
      const api = `${host.baseUrl}/api`;
      const enrol = await fetch(`${api}/enroll`, { method: 'POST', headers: { 'x-api-key': 'enrolment-secret', 'content-type': 'application/json' }, body: JSON.stringify({ host: { name: 'EXCH01', fqdn: 'exch01.corp.contoso.com' } }) });
      expect(enrol.status).toBe(201);
      const key = ((await enrol.json()) as { key: string }).key;
      const post = await fetch(`${api}/snapshots`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify(snapshot()) });
      expect(post.status).toBe(201);
      const posted = (await post.json()) as { results: { ruleId: string; status: string; reasonCode: string }[] };
      expect(posted.results.find((r) => r.ruleId === ruleId)).toMatchObject({ status: 'Pass', reasonCode: 'AllRunning' });

      const rules = (await (await fetch(`${api}/rules`, { headers: { 'x-api-key': key, 'accept-language': 'ja' } })).json()) as { rules: { id: string; title: string }[] };
      expect(rules.rules.find((r) => r.id === ruleId)?.title).toBe('Exchange の SMTP サービスが実行中である');

      // The summary's counts are the projector's: let it write this post's before reading.
      await app.projector.drain({ log: () => undefined });
      const summary = (await (await fetch(`${api}/summary`, { headers: { 'x-api-key': 'reader-key' } })).json()) as { rules: { ruleId: string; counts: Record<string, number> }[] };
      expect(summary.rules.find((r) => r.ruleId === ruleId)?.counts.Pass).toBe(1);
    } finally {
      await host.close();
    }
  });

  it('the command line evaluates it and prints it in the manifest', async () => {
    const file = path.join(COPY, 'snapshot.json');
    writeFileSync(file, JSON.stringify(snapshot()));
    const out: string[] = [];
    const io: Io = { out: (s) => void out.push(s), err: (s) => void out.push(s), read: async (f) => readFileSync(f) };
    expect(await copy.cli.main(['evaluate', file, '--format', 'json'], io)).toBe(0);
    const verdicts = JSON.parse(out.join('')) as { results: { ruleId: string; reasonCode: string }[] };
    expect(verdicts.results.map((r) => r.ruleId)).toContain(ruleId);
    out.length = 0;
    expect(await copy.cli.main(['manifest'], io)).toBe(0);
    expect(out.join('')).toContain('ExchangeServer\\\\v15\\\\Setup');
  });
});
