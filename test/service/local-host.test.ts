// The local host's own parts: settings from local.settings.json or built-in development keys, and
// `npm run demo` against a running host.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    expect(keySource).toBe(file);
  });

  it('falls back to the built-in development keys', () => {
    const { settings, keySource } = localSettings('x', path.join(tmpdir(), 'does-not-exist.json'), {});
    expect(settings.ingestKeys).toEqual([DEV_KEYS.ingest]);
    expect(settings.readerKeys).toEqual([DEV_KEYS.reader]);
    expect(settings.adminKeys).toEqual([DEV_KEYS.admin]);
    expect(keySource).toBe('built-in development keys');
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
    await runDemo(stack.baseUrl, TEST_KEYS.ingest, TEST_KEYS.reader, (l) => lines.push(l));
    const summary = lines.findIndex((l) => l.startsWith('Summary: '));
    expect(summary).toBeGreaterThan(0);
    expect(Number(/Summary: (\d+) hosts/.exec(lines[summary]!)?.[1])).toBeGreaterThan(0);
    expect(lines[summary + 1]).toMatch(/^rule\s+Pass\s+Warning\s+Error\s+NotApplicable\s+Unknown$/);
  });
});
