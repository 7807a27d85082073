// Properties of the port-25 configuration facts: they never throw and are deterministic for any
// snapshot the schema accepts; they ignore the order the snapshot lists things in and the
// spellings matching ignores (case, full paths, repeats, list order); they ignore what is not
// configuration (services, scanner state, logs); and two servers with equal facts and equal
// services get the same verdict, so the facts hold what the verdict rests on.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fingerprintHash } from '../../../src/rules/common/fingerprint';
import { mcafeePort25Blocked } from '../../../src/rules/mcafee-port25-blocked';
import { configurationFacts } from '../../../src/rules/mcafee-port25-blocked/fingerprint';
import { parseSnapshot } from '../../../src/snapshot/parse';
import { propertyRuns } from '../../support/property-runs';
import { b64, render, scenario, snapshot, structured } from './arbitraries';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const RUNS = { numRuns: propertyRuns(300), seed: 20261201 } as const;

type Doc = Record<string, unknown> & { registry: Record<string, unknown>[]; services: Record<string, unknown>[] };

function parse(doc: unknown) {
  const parsed = parseSnapshot(JSON.parse(JSON.stringify(doc)), { now: NOW });
  if (!parsed.ok) throw new Error(`generator made an invalid snapshot: ${JSON.stringify(parsed.issues)}`);
  return parsed.normalised;
}

const factsOf = (doc: unknown) => configurationFacts(parse(doc));
const hashOf = (doc: unknown) => fingerprintHash(factsOf(doc));

/** `items` reordered by `keys` (one random number per item). */
function permute<T>(items: readonly T[], keys: readonly number[]): T[] {
  return items.map((item, i) => ({ item, k: keys[i % Math.max(1, keys.length)] ?? 0, i })).sort((a, b) => a.k - b.k || b.i - a.i).map((x) => x.item);
}

const order = fc.array(fc.integer(), { minLength: 1, maxLength: 12 });

/** Respells one process entry the way matching ignores: case, a folder in front, quotes. */
function respell(entry: string, how: number): string {
  switch (how % 4) {
    case 0:
      return entry.toUpperCase();
    case 1:
      return `C:\\Program Files\\Other\\${entry}`;
    case 2:
      return `"${entry.toLowerCase()}"`;
    default:
      return entry;
  }
}

/** The same configuration written differently: lists respelled, reversed and repeated, ports reordered. */
function respellDoc(doc: Doc, how: number): Doc {
  const registry = doc.registry.map((k) => ({
    ...k,
    values: (k.values as { name: string; type: string; data: unknown }[]).map((v) => {
      if (/^PortBlock(Excluded|Included)Processes_/.test(v.name)) {
        // Blank entries are no entries: a folder in front of one would make it a real (empty) name.
        const list = (Array.isArray(v.data) ? (v.data as string[]) : String(v.data).split(';')).filter((e) => e.trim() !== '');
        const spelled = [...list].reverse().map((e, i) => respell(e, how + i));
        const repeated = spelled.length > 0 ? [...spelled, spelled[0]!] : spelled;
        return Array.isArray(v.data) ? { ...v, data: repeated } : { ...v, data: repeated.join(';') };
      }
      if (/^PortBlockPorts_/.test(v.name) && typeof v.data === 'string') return { ...v, data: v.data.split(',').reverse().join(',') };
      if (v.name === 'AccessProtectionUserRules' && typeof v.data === 'string') {
        const text = Buffer.from(v.data, 'base64').toString('latin1');
        return { ...v, data: b64(text.replace(/UserExclude AVO10 (\S+)/g, (_, p: string) => `UserExclude AVO10 ${respell(p, how)}`)) };
      }
      return v;
    }),
  }));
  return { ...doc, registry };
}

describe('port-25 configuration facts: properties', () => {
  it('never throw, are deterministic, JSON and flat, for any snapshot the schema accepts', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.oneof(snapshot, structured), (doc) => {
        const a = factsOf(doc);
        const b = factsOf(doc);
        expect(b).toEqual(a);
        expect(fingerprintHash(b)).toBe(fingerprintHash(a));
        expect(JSON.parse(JSON.stringify(a))).toEqual(a);
        for (const v of Object.values(a)) {
          if (Array.isArray(v)) {
            expect(v.every((x) => typeof x === 'string')).toBe(true);
            expect([...v].sort()).toEqual(v);
            expect(new Set(v).size).toBe(v.length);
          } else expect(['string', 'number', 'boolean'].includes(typeof v) || v === null).toBe(true);
        }
        seen.add(String(a['settings.read'] ?? 'no product'));
      }),
      RUNS,
    );
    // The generators reach every way the settings can be (not) read.
    expect([...seen].sort()).toEqual(['missing', 'no product', 'ok', 'unreadable', 'unrecognised']);
  });

  it('ignore the order of registry keys, values and services', () => {
    fc.assert(
      fc.property(fc.oneof(snapshot, structured), order, order, (doc, k1, k2) => {
        const d = doc as unknown as Doc;
        const shuffled = {
          ...d,
          registry: permute(d.registry, k1).map((k) => ({ ...k, values: permute(k.values as unknown[], k2) })),
          services: permute(d.services, k2),
        };
        expect(hashOf(shuffled)).toBe(hashOf(doc));
      }),
      RUNS,
    );
  });

  it('ignore spellings matching ignores, and so does the verdict', () => {
    let rulesSeen = 0;
    fc.assert(
      fc.property(scenario, fc.nat(), (s, how) => {
        const doc = render(s, false) as Doc;
        const respelled = respellDoc(doc, how);
        expect(factsOf(respelled)).toEqual(factsOf(doc));
        expect(mcafeePort25Blocked.evaluate(parse(respelled)).status).toBe(mcafeePort25Blocked.evaluate(parse(doc)).status);
        if (s.rules.length > 0) rulesSeen++;
      }),
      RUNS,
    );
    // A third of the cases hold rules (so the respelling met real rule lines), however many run.
    expect(rulesSeen).toBeGreaterThan(RUNS.numRuns / 3);
  });

  it('ignore what is not configuration: services, the scanner, logs and the host', () => {
    fc.assert(
      fc.property(structured, fc.boolean(), (doc, started) => {
        const d = doc as unknown as Doc;
        const other = { ...d, services: d.services.map((x) => ({ ...x, started, state: started ? 'Running' : 'Stopped' })), files: [], host: { name: 'OTHER01' } };
        expect(hashOf(other)).toBe(hashOf(doc));
      }),
      RUNS,
    );
  });

  it('equal facts and equal services give the same verdict; a verdict that moves moves the fingerprint', () => {
    let moved = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        // The same servers with one more exclusion for EdgeTransport.exe.
        const before = render(s, false);
        const after = render(s, true);
        const verdicts = [before, after].map((d) => mcafeePort25Blocked.evaluate(parse(d)).status);
        if (hashOf(before) === hashOf(after)) expect(verdicts[1]).toBe(verdicts[0]);
        if (verdicts[0] !== verdicts[1]) moved++;
      }),
      RUNS,
    );
    // Otherwise the property would hold vacuously (one case in 30 at least, however many run).
    expect(moved).toBeGreaterThan(RUNS.numRuns / 30);
  });
});
