// No input makes validation throw: the snapshot schema (every refinement and transform), the
// parser and the evaluation entry point answer any JSON value with a result or a list of issues,
// and the CLI answers a bad snapshot with exit 2 and one line per problem, never a stack trace.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateDocument } from '../../src/app/evaluate-document';
import { main } from '../../src/cli/main';
import { parseSnapshot } from '../../src/snapshot/parse';
import { registryValueSchema, snapshotSchema } from '../../src/snapshot/schema';
import { sampleSnapshot } from '../snapshot/sample';
import { loadedTimeout } from '../support/load-timeouts';

const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1);
export const SCHEMA_RUNS = 3000 * SCALE;

const NOW = Date.parse('2026-11-28T01:02:00.000Z');

/** Every registry value type of the contract, read from the schema itself. */
const VALUE_TYPES = registryValueSchema.options.flatMap((o) => [...o.shape.type.values]);

/** Strings that look like numbers, dates, ids or paths: what a refinement may try to convert. */
const numberish = fc.oneof(
  fc.constantFrom('abc', '1e5', '1.5', '-1', '+1', '0x10', ' 1', '1 ', '', '18446744073709551616', '99999999999999999999', '١٢٣', 'Infinity', 'NaN', '1_000'),
  fc.stringMatching(/^[0-9]{0,25}$/),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.double().map(String),
);
const dateish = fc.oneof(
  fc.constantFrom('2026-02-30T00:00:00Z', '2026-13-01T00:00:00Z', '2026-01-01T24:00:00Z', '2026-11-28T01:00:00.000+25:00', 'yesterday', ''),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
);
const anyJson = fc.jsonValue({ maxDepth: 3 });
/** Arbitrary JSON, or a value shaped to pass the type check and reach the refinements behind it. */
const field = fc.oneof(anyJson, numberish, dateish, fc.string(), fc.boolean(), fc.integer(), fc.constant(null));

const registryValue = fc.record(
  {
    name: fc.oneof(fc.string(), anyJson),
    type: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...VALUE_TYPES) }, fc.string(), anyJson),
    data: fc.oneof({ weight: 3, arbitrary: field }, fc.array(field, { maxLength: 3 })),
  },
  { requiredKeys: ['type', 'data'] },
);
const registryEntry = fc.record(
  {
    path: fc.oneof(fc.constantFrom('HKLM\\SOFTWARE\\x', 'HKLM\\', 'HKLM\\\\x', 'HKXX\\y'), fc.string(), anyJson),
    view: fc.oneof(fc.constantFrom('32', '64'), anyJson),
    exists: fc.oneof(fc.boolean(), anyJson),
    lastWriteTime: field,
    values: fc.oneof({ weight: 4, arbitrary: fc.array(registryValue, { maxLength: 4 }) }, anyJson),
    error: fc.oneof(fc.record({ code: fc.oneof(fc.constantFrom('AccessDenied', 'Other'), fc.string()), message: field }), anyJson),
  },
  { requiredKeys: [] },
);
const service = fc.record(
  { name: field, displayName: field, state: field, started: fc.oneof(fc.boolean(), field), startMode: field, pathName: field, processId: field },
  { requiredKeys: [] },
);
const file = fc.record({ path: field, exists: fc.oneof(fc.boolean(), field), size: field, lastWriteTime: dateish, tail: field, error: anyJson }, { requiredKeys: [] });

/** A snapshot-shaped document whose every part may be arbitrary. */
const shapedDocument = fc.record(
  {
    schema: fc.oneof(fc.constant('fleet-posture/snapshot@1'), anyJson),
    snapshotId: fc.oneof(fc.uuid(), field),
    collectedAt: fc.oneof(dateish, field),
    collector: fc.oneof(fc.record({ name: field, version: field, manifestVersion: field }, { requiredKeys: [] }), anyJson),
    host: fc.oneof(
      fc.record({ name: fc.oneof(fc.constant('EXCH01'), field), fqdn: field, os: anyJson, utcOffsetMinutes: field }, { requiredKeys: [] }),
      anyJson,
    ),
    registry: fc.oneof({ weight: 4, arbitrary: fc.array(registryEntry, { maxLength: 3 }) }, anyJson),
    services: fc.oneof(fc.array(service, { maxLength: 3 }), anyJson),
    files: fc.oneof(fc.array(file, { maxLength: 2 }), anyJson),
  },
  { requiredKeys: [] },
);

/** The valid sample with one part (picked by `pick`) replaced by arbitrary JSON. */
const mutatedSample = fc.tuple(fc.nat(), fc.oneof(field, registryValue, registryEntry)).map(([pick, value]) => {
  const doc = sampleSnapshot() as unknown as Record<string, unknown>;
  const slots: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        slots.push([v, i]);
        walk(x);
      });
    }
    else if (v && typeof v === 'object') {
      for (const k of Object.keys(v)) {
        slots.push([v as Record<string, unknown>, k]);
        walk((v as Record<string, unknown>)[k]);
      }
    }
  };
  walk(doc);
  const [parent, key] = slots[pick % slots.length]!;
  (parent as Record<string | number, unknown>)[key] = value;
  return doc;
});

// 3000 generated documents, CPU-bound: measured 4.0 s in a full run at load 6-7.
describe('validation never throws', { timeout: loadedTimeout(4_000) }, () => {
  it(`${SCHEMA_RUNS} arbitrary, snapshot-shaped and mutated documents: the schema, the parser and evaluateDocument return, never throw`, () => {
    let valid = 0;
    fc.assert(
      fc.property(fc.oneof(anyJson, shapedDocument, mutatedSample), (doc) => {
        const r = snapshotSchema.safeParse(doc);
        const parsed = parseSnapshot(doc, { now: NOW });
        const evaluated = evaluateDocument(doc, { now: NOW });
        expect(parsed.ok).toBe(evaluated.ok);
        if (!r.success) expect(parsed.ok).toBe(false);
        if (evaluated.ok) valid++;
        else for (const issue of evaluated.issues) expect(typeof issue.message).toBe('string');
      }),
      { numRuns: SCHEMA_RUNS },
    );
    // The generator reaches past the type checks: some documents are valid.
    expect(valid).toBeGreaterThan(0);
  });

  it.each(['abc', '1e5', '1.5', '-1', ' 1', '', '0x10', '18446744073709551616'])('REG_QWORD data %j is an issue at its path, not an exception', (data) => {
    const doc = sampleSnapshot() as unknown as { registry: { values: unknown[] }[] };
    doc.registry[0]!.values[0] = { name: 'x', type: 'REG_QWORD', data };
    const r = evaluateDocument(doc, { now: NOW });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.path)).toContain('registry[0].values[0].data');
  });
});

describe('fleet-posture evaluate on a bad registry value', () => {
  it('exits 2 with one line naming the value, no stack trace', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'posture-cli-'));
    for (const data of ['abc', '1e5', '1.5']) {
      const doc = sampleSnapshot() as unknown as { registry: { values: unknown[] }[] };
      doc.registry[0]!.values[0] = { name: 'x', type: 'REG_QWORD', data };
      const file = path.join(dir, 'bad.json');
      writeFileSync(file, JSON.stringify(doc));
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(['evaluate', file], { out: (t) => out.push(t), err: (t) => err.push(t), read: (p) => import('node:fs/promises').then((fs) => fs.readFile(p)) });
      expect(code, data).toBe(2);
      expect(out).toEqual([]);
      const lines = err.join('').trimEnd().split('\n');
      expect(lines, data).toHaveLength(1);
      expect(lines[0]).toMatch(/registry\[0\]\.values\[0\]\.data: .*REG_QWORD/);
      expect(err.join('')).not.toMatch(/\n\s+at /);
    }
  });
});
