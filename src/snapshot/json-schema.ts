// JSON Schema documents generated from the zod schemas, published under schema/ for third-party
// collectors. A test fails when the committed files drift from these.
import { z } from 'zod';
import { manifestSchema, snapshotSchema } from './schema';

function generate(schema: z.ZodType, id: string, title: string): Record<string, unknown> {
  const doc = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { $id: id, title, ...doc };
}

export const JSON_SCHEMAS = {
  snapshot: () => generate(snapshotSchema, 'https://fleet-posture.invalid/schema/snapshot-v1.schema.json', 'fleet-posture snapshot v1'),
  manifest: () => generate(manifestSchema, 'https://fleet-posture.invalid/schema/manifest-v1.schema.json', 'fleet-posture collection manifest v1'),
} as const;

export type JsonSchemaName = keyof typeof JSON_SCHEMAS;

export const JSON_SCHEMA_FILES: Readonly<Record<JsonSchemaName, string>> = {
  snapshot: 'schema/snapshot-v1.schema.json',
  manifest: 'schema/manifest-v1.schema.json',
};

export function jsonSchemaText(name: JsonSchemaName): string {
  return JSON.stringify(JSON_SCHEMAS[name](), null, 2) + '\n';
}
