import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JSON_SCHEMA_FILES, jsonSchemaText, type JsonSchemaName } from '../../src/snapshot/json-schema';

describe('published JSON Schema', () => {
  it.each(Object.keys(JSON_SCHEMA_FILES) as JsonSchemaName[])('%s copy in schema/ matches the zod schemas (run `npm run schema` to update)', (name) => {
    const committed = readFileSync(JSON_SCHEMA_FILES[name], 'utf8');
    expect(committed).toBe(jsonSchemaText(name));
  });

  it('describes the registry value encodings', () => {
    const doc = JSON.parse(jsonSchemaText('snapshot'));
    const text = JSON.stringify(doc);
    for (const t of ['REG_SZ', 'REG_MULTI_SZ', 'REG_DWORD', 'REG_QWORD', 'REG_BINARY']) expect(text).toContain(t);
    expect(doc.properties.host.properties.name.maxLength).toBe(63);
  });
});
