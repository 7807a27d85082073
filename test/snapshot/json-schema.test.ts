import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JSON_SCHEMA_FILES, jsonSchemaText, type JsonSchemaName } from '../../src/snapshot/json-schema';

describe('published JSON Schema', () => {
  it.each(Object.keys(JSON_SCHEMA_FILES) as JsonSchemaName[])('%s copy in schema/ matches the zod schemas (run `npm run schema` to update)', (name) => {
    const committed = readFileSync(JSON_SCHEMA_FILES[name], 'utf8');
    expect(committed).toBe(jsonSchemaText(name));
  });

  it('publishes the snapshot and the manifest schema under schema/', () => {
    expect(JSON_SCHEMA_FILES).toEqual({ snapshot: 'schema/snapshot-v1.schema.json', manifest: 'schema/manifest-v1.schema.json' });
  });

  it('describes the optional path sources of file entries', () => {
    const snapshot = JSON.parse(jsonSchemaText('snapshot'));
    const manifest = JSON.parse(jsonSchemaText('manifest'));
    expect(snapshot.properties.files.items.properties.pathFrom.required).toEqual(['registryPath', 'view', 'valueName']);
    expect(snapshot.properties.files.items.required).toEqual(['path', 'exists']);
    expect(manifest.properties.files.items.properties.pathFrom.maxItems).toBe(16);
    expect(manifest.properties.files.items.required).toEqual(['path', 'tailBytes']);
  });

  it('describes the registry value encodings', () => {
    const doc = JSON.parse(jsonSchemaText('snapshot'));
    const text = JSON.stringify(doc);
    for (const t of ['REG_SZ', 'REG_MULTI_SZ', 'REG_DWORD', 'REG_QWORD', 'REG_BINARY']) expect(text).toContain(t);
    expect(doc.properties.host.properties.name.maxLength).toBe(63);
  });
});
