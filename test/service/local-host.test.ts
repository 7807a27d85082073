// The local host's own parts: settings from local.settings.json or built-in development keys, and
// `npm run demo` against a running host.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bannerKey, exportNote } from '../../src/local/banner-keys';
import { runDemo } from '../../src/local/demo';
import { DEV_KEYS, localSettings } from '../../src/local/settings-file';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

describe('local settings', () => {
  it('reads keys from local.settings.json and always uses the Azurite it started', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'posture-settings-'));
    const file = path.join(dir, 'local.settings.json');
    writeFileSync(
      file,
      JSON.stringify({ Values: { POSTURE_INGEST_KEYS: 'a,b', POSTURE_READER_KEYS: 'r', POSTURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true', POSTURE_MAX_SNAPSHOT_BYTES: '2048' } }),
    );
    const { settings, keySource } = localSettings('AzuriteConnection', file, {});
    expect(settings.ingestKeys).toEqual(['a', 'b']);
    expect(settings.readerKeys).toEqual(['r']);
    expect(settings.maxSnapshotBytes).toBe(2048);
    expect(settings.storageConnectionString).toBe('AzuriteConnection');
    // The file holds no enrolment secret: the development one stands in, and the banner says so.
    expect(keySource).toBe(`${file}, built-in development keys`);
  });

  it('falls back to the built-in development keys', () => {
    const { settings, keySource } = localSettings('x', path.join(tmpdir(), 'does-not-exist.json'), {});
    expect(settings.ingestKeys).toEqual([DEV_KEYS.ingest]);
    expect(settings.readerKeys).toEqual([DEV_KEYS.reader]);
    expect(settings.adminKeys).toEqual([DEV_KEYS.admin]);
    expect(settings.enrolmentSecrets).toEqual([DEV_KEYS.enrolment]);
    expect(keySource).toBe('built-in development keys');
  });

  it('takes POSTURE_ variables from the environment over the file, and names where the keys came from', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'posture-settings-'));
    const file = path.join(dir, 'local.settings.json');
    // A file copied for Core Tools' other values, without keys: the keys are the environment's alone.
    writeFileSync(file, JSON.stringify({ Values: { POSTURE_MAX_SNAPSHOT_BYTES: '2048', POSTURE_REENROLMENT: 'open' } }));
    const fromEnv = localSettings('x', file, { POSTURE_READER_KEYS: 'env-reader', POSTURE_REENROLMENT: 'approval' });
    expect(fromEnv.settings.readerKeys).toEqual(['env-reader']);
    expect(fromEnv.settings.reenrolment).toBe('approval');
    expect(fromEnv.settings.maxSnapshotBytes).toBe(2048);
    expect(fromEnv.keySource).toBe('the environment, built-in development keys');
    // Keys in the file, the enrolment secret not: the banner's secret is the development one, and says so.
    writeFileSync(file, JSON.stringify({ Values: { POSTURE_READER_KEYS: 'r', POSTURE_ADMIN_KEYS: 'a' } }));
    const mixed = localSettings('x', file, { POSTURE_ADMIN_KEYS: 'env-admin' });
    expect(mixed.settings.adminKeys).toEqual(['env-admin']);
    expect(mixed.settings.enrolmentSecrets).toEqual([DEV_KEYS.enrolment]);
    expect(mixed.keySource).toBe(`${file}, the environment, built-in development keys`);
    // Every key of the file overridden by the environment: the file is not a source of the keys used.
    writeFileSync(file, JSON.stringify({ Values: { POSTURE_READER_KEYS: 'r', POSTURE_ADMIN_KEYS: 'a', POSTURE_ENROLMENT_SECRETS: 's' } }));
    const overridden = localSettings('x', file, { POSTURE_READER_KEYS: 'env-r', POSTURE_ADMIN_KEYS: 'env-a', POSTURE_ENROLMENT_SECRETS: 'env-s' });
    expect(overridden.settings.enrolmentSecrets).toEqual(['env-s']);
    expect(overridden.keySource).toBe('the environment');
    expect(overridden.keyOrigins).toEqual({ POSTURE_READER_KEYS: 'the environment', POSTURE_ADMIN_KEYS: 'the environment', POSTURE_ENROLMENT_SECRETS: 'the environment' });
  });

  it('the banner prints built-in keys whole and masks any other, naming where it is set', () => {
    expect(bannerKey(DEV_KEYS.reader, 'POSTURE_READER_KEYS', 'built-in development keys', 'READER_KEY')).toEqual({ shown: DEV_KEYS.reader, header: `'x-api-key: ${DEV_KEYS.reader}'` });
    const real = bannerKey('s3cret-reader-key', 'POSTURE_READER_KEYS', 'the environment', 'READER_KEY');
    expect(real.shown).toBe('s3cr… (the first of POSTURE_READER_KEYS in the environment)');
    expect(real.header).toBe('"x-api-key: ${READER_KEY:?export READER_KEY first: the first of POSTURE_READER_KEYS in the environment}"');
    expect(JSON.stringify(real)).not.toContain('s3cret-reader-key');
    expect(exportNote([real])).toBe('# Keys are shown masked above: first export READER_KEY (the first of POSTURE_READER_KEYS in the environment).');
    expect(exportNote([bannerKey(DEV_KEYS.enrolment, 'POSTURE_ENROLMENT_SECRETS', undefined, 'ENROLMENT_SECRET')])).toBeUndefined();
  });

  it('the banner never prints a short key whole: at most a quarter of it, four characters at most', () => {
    const shownOf = (key: string) => bannerKey(key, 'POSTURE_ADMIN_KEYS', 'the environment', 'ADMIN_KEY').shown.split('…')[0];
    expect(['k', 'key', 'key4', 'key-5', 'seven-7', 'eight-88', 'a-twelve-key', 'sixteen-char-key', 'a-long-admin-key-for-prod'].map(shownOf)).toEqual([
      '',
      '',
      'k',
      'k',
      's',
      'ei',
      'a-t',
      'sixt',
      'a-lo',
    ]);
  });
});

describe('npm run demo', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.stop());

  it('posts a small fleet and prints the summary table', async () => {
    const lines: string[] = [];
    // The demo enrols each server with the enrolment secret, as a collector's installer would.
    await runDemo(stack.baseUrl, TEST_KEYS.enrolment, TEST_KEYS.reader, (l) => lines.push(l));
    expect(lines.filter((l) => /^20[01] /.test(l)).length).toBeGreaterThan(0);
    const summary = lines.findIndex((l) => l.startsWith('Summary: '));
    expect(summary).toBeGreaterThan(0);
    expect(Number(/Summary: (\d+) hosts/.exec(lines[summary]!)?.[1])).toBeGreaterThan(0);
    expect(lines[summary + 1]).toMatch(/^rule\s+Pass\s+Warning\s+Error\s+NotApplicable\s+Unknown$/);
  });
});
