// The app settings the compiled template gives the function app against the ones the code reads
// (SETTING_NAMES in src/app/settings.ts), in both directions, plus the platform settings a Flex
// Consumption app with identity-based storage needs and the ones Flex rejects.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SETTING_NAMES } from '../../src/app/settings';
import { SERVICE_NODE_OPTIONS } from '../../src/local/node-options';
import type { Json, TemplateScope } from './arm';
import { dig, evaluateString, isObject, mainTemplate, referencesIn, REPO_ROOT, resourcesOfType } from './arm';

/**
 * Settings the code reads that the template must NOT set, each with the reason. Every entry must
 * still be in SETTING_NAMES (a stale exception fails the test) and must be absent from the Bicep.
 */
const UNSET_IN_AZURE: Readonly<Record<string, string>> = {
  POSTURE_STORAGE_CONNECTION_STRING:
    'A connection string carries an account key; in Azure shared-key access is off and the app uses POSTURE_TABLE_ENDPOINT with its managed identity.',
  POSTURE_CONTINUATION_TOKEN_SECRET:
    'Unset, every instance shares the secret the store keeps in the Lifecycle table, so a page handed out before a deployment opens after it; a secret made per deployment would refuse it.',
};

/** Platform settings: identity-based host storage and Entra-authenticated Application Insights. */
const REQUIRED_PLATFORM = [
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'AzureWebJobsStorage__blobServiceUri',
  'AzureWebJobsStorage__tableServiceUri',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
];

/** Settings Flex Consumption rejects or ignores (runtime and deployment live in functionAppConfig). */
const FLEX_DEPRECATED = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD',
  'AzureWebJobsStorage', // the key-based connection string form
];

/**
 * Host storage endpoints the app must not point the host at: the identity has no role there, as
 * nothing of this app needs it.
 */
const NO_ROLE_FOR = ['AzureWebJobsStorage__queueServiceUri'];

/** name → value (literal or ARM expression), from sites/config 'appsettings' and siteConfig.appSettings. */
let settings: Map<string, Json>;
let settingsScope: TemplateScope;

function collectSettings(): Map<string, Json> {
  const found = new Map<string, Json>();
  for (const { scope, resource } of resourcesOfType('Microsoft.Web/sites/config')) {
    if (!resource.name.includes('appsettings')) continue;
    settingsScope = scope;
    const props = resource.properties;
    if (isObject(props)) for (const [name, v] of Object.entries(props)) found.set(name, v);
  }
  for (const { resource } of resourcesOfType('Microsoft.Web/sites')) {
    const list = dig(resource, 'properties', 'siteConfig', 'appSettings');
    if (!Array.isArray(list)) continue;
    for (const entry of list) if (isObject(entry) && typeof entry.name === 'string') found.set(entry.name, entry.value ?? null);
  }
  return found;
}

/** The name of the user-assigned identity whose clientId an expression reads, or undefined. */
function identityClientId(value: Json | undefined): string | undefined {
  const ref = referencesIn(settingsScope, value).find((r) => r.property === 'clientId');
  return ref?.resource.type === 'Microsoft.ManagedIdentity/userAssignedIdentities' ? ref.resource.name : undefined;
}

beforeAll(() => {
  mainTemplate();
  settings = collectSettings();
});

describe('app settings: compiled template against src/app/settings.ts', () => {
  it('finds the app settings resource', () => {
    expect(settings.size).toBeGreaterThan(5);
  });

  it('sets every setting the code reads (except the ones listed as unset in Azure)', () => {
    const missing = SETTING_NAMES.filter((name) => !(name in UNSET_IN_AZURE) && !settings.has(name));
    expect(missing, 'add each to the appsettings resource in infra/modules/resources.bicep, or to UNSET_IN_AZURE here with the reason').toEqual([]);
  });

  it('reads every POSTURE_* setting the template sets', () => {
    const read = new Set<string>(SETTING_NAMES);
    const unread = [...settings.keys()].filter((name) => name.startsWith('POSTURE_') && !read.has(name));
    expect(unread, 'set by the Bicep but not in SETTING_NAMES (src/app/settings.ts): a typo, or a setting the code no longer reads').toEqual([]);
  });

  it('keeps the unset-in-Azure list honest: each is read by the code and not set in Azure', () => {
    const read = new Set<string>(SETTING_NAMES);
    for (const name of Object.keys(UNSET_IN_AZURE)) {
      expect(read.has(name), `${name} is no longer in SETTING_NAMES`).toBe(true);
      expect(settings.has(name), `${name} must not be set in Azure`).toBe(false);
    }
  });

  it('sets the identity-based platform settings', () => {
    expect(REQUIRED_PLATFORM.filter((name) => !settings.has(name))).toEqual([]);
    expect(settings.get('AzureWebJobsStorage__credential')).toBe('managedidentity');
  });

  it('points the host at no storage service its identity has no role for (queues)', () => {
    expect(NO_ROLE_FOR.filter((name) => settings.has(name))).toEqual([]);
  });

  it('sets none of the settings Flex Consumption rejects', () => {
    expect(FLEX_DEPRECATED.filter((name) => settings.has(name))).toEqual([]);
  });

  it('uses the same user-assigned identity for the SDK, the host storage and App Insights', () => {
    const clientId = identityClientId(settings.get('AZURE_CLIENT_ID'));
    expect(clientId, 'AZURE_CLIENT_ID is the user-assigned identity\'s clientId').toBeDefined();
    expect(identityClientId(settings.get('AzureWebJobsStorage__clientId'))).toBe(clientId);
    const auth = String(settings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING'));
    expect(auth).toMatch(/^\[format\('ClientId=\{0\};Authorization=AAD', /);
    expect(identityClientId(auth)).toBe(clientId);
  });

  it('writes a switch built from a bool parameter as true or false, the spelling docs/deploy.md gives', () => {
    // ARM's string() of a bool is True or False: the app would read it, but the portal would show a
    // value the docs never write.
    const params = settingsScope.template.parameters ?? {};
    const switches = [...settings].flatMap(([name, value]) =>
      [...String(value).matchAll(/parameters\('(\w+)'\)/g)].map((m) => m[1]!).filter((p) => params[p]?.type === 'bool').map((p) => ({ name, value, p })),
    );
    expect(switches.map((s) => s.name)).toContain('POSTURE_ALLOW_SHARED_INGEST_KEYS');
    for (const { name, value, p } of switches) {
      for (const on of [true, false]) expect(evaluateString(settingsScope, value, { [p]: on }), `${name} with ${p} ${on}`).toBe(String(on));
    }
  });

  it('gives the keys from secure parameters, not literals', () => {
    for (const name of ['POSTURE_INGEST_KEYS', 'POSTURE_READER_KEYS', 'POSTURE_ADMIN_KEYS', 'POSTURE_ENROLMENT_SECRETS']) {
      const param = /^\[parameters\('(\w+)'\)\]$/.exec(String(settings.get(name)))?.[1];
      expect(param, `${name} must come from a parameter`).toBeDefined();
      expect(settingsScope.template.parameters?.[param!]?.type, `${name}: ${param} must be @secure()`).toBe('securestring');
    }
  });

  it('contains no account key or connection string anywhere in the template or the Bicep', () => {
    expect(JSON.stringify(mainTemplate())).not.toMatch(/listKeys\(|AccountKey=|DefaultEndpointsProtocol=/);
    for (const rel of ['infra/main.bicep', 'infra/modules/resources.bicep']) {
      expect(readFileSync(path.join(REPO_ROOT, rel), 'utf8'), rel).not.toMatch(/listKeys\s*\(|AccountKey=|DefaultEndpointsProtocol=/);
    }
  });
});

describe('the Node worker heap settings', () => {
  it('are set in Azure as NODE_OPTIONS, the same flags as src/local/node-options.ts', () => {
    expect(settings.get('NODE_OPTIONS')).toBe(SERVICE_NODE_OPTIONS.join(' '));
  });

  it('are the flags `npm start` runs the local host with', () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toContain(`node ${SERVICE_NODE_OPTIONS.join(' ')} dist/src/local/main.js`);
  });

  it('are accepted by Node in NODE_OPTIONS and cap the heap', () => {
    const probe = "process.stdout.write(JSON.stringify({ limit: require('node:v8').getHeapStatistics().heap_size_limit }))";
    const run = spawnSync(process.execPath, ['-e', probe], { env: { ...process.env, NODE_OPTIONS: SERVICE_NODE_OPTIONS.join(' ') }, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const capped = JSON.parse(run.stdout) as { limit: number };
    const plain = JSON.parse(spawnSync(process.execPath, ['-e', probe], { env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8' }).stdout) as { limit: number };
    // The old generation's 512 MB plus the young generation, well under the default on this machine.
    expect(capped.limit).toBeGreaterThanOrEqual(512 * 1024 * 1024);
    expect(capped.limit).toBeLessThan(640 * 1024 * 1024);
    expect(plain.limit).toBeGreaterThan(capped.limit);
  });
});
