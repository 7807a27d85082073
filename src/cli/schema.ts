// `fleet-posture schema <snapshot|manifest> [--write]`: the published JSON Schema documents.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { JSON_SCHEMA_FILES, JSON_SCHEMAS, jsonSchemaText, type JsonSchemaName } from '../snapshot/json-schema';
import { EXIT, UsageError, type Io } from './io';

export const schemaHelp = `Usage: fleet-posture schema <snapshot | manifest> [--write]

Prints the JSON Schema generated from the contract's zod schemas; --write updates the copy under schema/
(run it in the repository's root folder).`;

export async function schemaCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { write: { type: 'boolean', default: false } } });
  const name = positionals[0];
  // Own keys only: `in` would also take what every object inherits (constructor, __proto__).
  if (positionals.length !== 1 || !name || !Object.hasOwn(JSON_SCHEMAS, name)) throw new UsageError('schema takes one name: snapshot or manifest');
  const text = jsonSchemaText(name as JsonSchemaName);
  if (values.write) {
    const file = JSON_SCHEMA_FILES[name as JsonSchemaName];
    try {
      await writeFile(file, text);
    } catch (e) {
      // The path is relative to the repository's root: anywhere else there is no schema/ to update.
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'there is no schema folder here' : ((e as Error).message.split('\n')[0] ?? String(e));
      io.err(`fleet-posture schema: cannot write ${file} (${why}): run --write from the repository's root folder\n`);
      return EXIT.badInput;
    }
    io.err(`wrote ${file}\n`);
  } else io.out(text);
  return EXIT.ok;
}
