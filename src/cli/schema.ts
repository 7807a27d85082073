// `fleet-posture schema <snapshot|manifest> [--write]`: the published JSON Schema documents.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { JSON_SCHEMA_FILES, JSON_SCHEMAS, jsonSchemaText, type JsonSchemaName } from '../snapshot/json-schema';
import { EXIT, UsageError, type Io } from './io';

export const schemaHelp = `Usage: fleet-posture schema <snapshot | manifest> [--write]

Prints the JSON Schema generated from the contract's zod schemas; --write updates the copy under schema/.`;

export async function schemaCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { write: { type: 'boolean', default: false } } });
  const name = positionals[0];
  if (positionals.length !== 1 || !name || !(name in JSON_SCHEMAS)) throw new UsageError('schema takes one name: snapshot or manifest');
  const text = jsonSchemaText(name as JsonSchemaName);
  if (values.write) {
    await writeFile(JSON_SCHEMA_FILES[name as JsonSchemaName], text);
    io.err(`wrote ${JSON_SCHEMA_FILES[name as JsonSchemaName]}\n`);
  } else io.out(text);
  return EXIT.ok;
}
