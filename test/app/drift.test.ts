// Fleet drift, pure: clusters from members or from counted parts (the store's shards), and the
// field-by-field comparison with the largest cluster or a baseline. Examples come from the real
// port-25 fixtures; properties hold for any fleet.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseReference, clusterFleet, diffFacts, mergeClusters, serverDrift, type ClusterPart, type FleetMember } from '../../src/app/drift';
import { evaluateRule } from '../../src/rules/registry';
import { mcafeePort25Blocked } from '../../src/rules/mcafee-port25-blocked';
import { STATUSES, type Facts } from '../../src/rules/types';
import { parseSnapshot } from '../../src/snapshot/parse';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';
import { propertyRuns } from '../support/property-runs';

const NOW = Date.parse('2026-12-01T00:00:00.000Z');
const RUNS = { numRuns: propertyRuns(200), seed: 20261201 } as const;
// Enough clusters and fields that the sort merges runs, not only inserts into one: the order
// must hold there too, for names that differ anywhere (a shared prefix, case, a digit).
const names = fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9]{1,4}$/), { minLength: 70, maxLength: 200 });

/** A fleet member from a fixture, as ingest would store it. */
function member(server: string, file: string): FleetMember {
  const parsed = parseSnapshot(readFixture(file), { now: NOW });
  if (!parsed.ok) throw new Error(file);
  const r = evaluateRule(mcafeePort25Blocked, parsed.normalised);
  return { server, fingerprint: r.fingerprint!.hash, facts: r.fingerprint!.facts, status: r.status };
}

describe('drift on fixture servers', () => {
  const fleet = [
    member('exch03', 'vse80i-exchange2003-inetinfo-default-excluded.json'),
    member('exch01', 'vse80i-exchange2003-mcshield-missing.json'),
    member('fs01', 'vse80i-no-smtp-service-file-server.json'),
    member('exch02', 'vse80i-exchange2003-inetinfo-removed-from-list.json'),
  ];

  it('the three servers configured alike are the largest cluster, with their statuses counted', () => {
    const clusters = clusterFleet(fleet);
    expect(clusters.map((c) => c.servers)).toEqual([3, 1]);
    expect(clusters[0]).toMatchObject({ sample: ['exch01', 'exch03', 'fs01'], counts: { Pass: 1, Unknown: 1, NotApplicable: 1, Warning: 0, Error: 0 } });
    expect(clusters[1]).toMatchObject({ sample: ['exch02'], counts: { Warning: 1, Pass: 0 } });
    expect(clusters[0]!.facts).toEqual(fleet[0]!.facts);
  });

  it('the odd server differs from the largest cluster in exactly its exclusion list', () => {
    const clusters = clusterFleet(fleet);
    const reference = chooseReference(undefined, clusters);
    expect(reference).toMatchObject({ kind: 'largest-cluster', servers: 3, fingerprint: clusters[0]!.fingerprint });
    const drift = serverDrift(fleet[3]!, reference);
    expect(drift.matches).toBe(false);
    expect(drift.differences).toHaveLength(1);
    const d = drift.differences[0]!;
    expect(d).toMatchObject({ field: 'portRule[mass-mailing].exclude', change: 'changed' });
    expect(d.reference).toContain('inetinfo.exe');
    expect(d.server).not.toContain('inetinfo.exe');
    expect(serverDrift(fleet[1]!, reference)).toEqual({ fingerprint: fleet[1]!.fingerprint, matches: true, differences: [] });
  });

  it('a baseline replaces the largest cluster as the reference', () => {
    const odd = fleet[3]!;
    const reference = chooseReference({ server: odd.server, fingerprint: odd.fingerprint, facts: odd.facts }, clusterFleet(fleet));
    expect(reference).toMatchObject({ kind: 'baseline', server: 'exch02' });
    expect(serverDrift(odd, reference).matches).toBe(true);
    expect(serverDrift(fleet[0]!, reference).differences.map((d) => d.field)).toEqual(['portRule[mass-mailing].exclude']);
  });

  it('no servers, no reference: nothing to differ from', () => {
    expect(chooseReference(undefined, [])).toBeUndefined();
    expect(serverDrift(fleet[0]!, undefined)).toMatchObject({ matches: true, differences: [] });
  });

  it('different generations differ in added and missing fields too', () => {
    const a = member('a', 'vse88-x64-report-only.json');
    const b = member('b', 'vse80i-behaviourblocking-access-denied.json');
    const diff = diffFacts(b.facts, a.facts);
    expect(diff.find((d) => d.field === 'product.generation')).toEqual({ field: 'product.generation', change: 'changed', server: 'VSE80i', reference: 'VSE88' });
    expect(diff.find((d) => d.field === 'accessProtection')).toEqual({ field: 'accessProtection', change: 'missing', server: null, reference: 'on' });
    expect(diffFacts(a.facts, b.facts).find((d) => d.field === 'accessProtection')?.change).toBe('added');
  });
});

describe('clusters', () => {
  it('largest first; equal sizes in fingerprint order; empty parts dropped; samples sorted and bounded', () => {
    const parts: ClusterPart[] = [
      { fingerprint: 'b', counts: { Pass: 2 }, facts: { x: 1 }, sample: ['s2', 's1'] },
      { fingerprint: 'a', counts: { Pass: 1, Warning: 1 }, facts: { x: 2 }, sample: ['s9', 's3'] },
      { fingerprint: 'c', counts: { Pass: 0 }, facts: { x: 3 }, sample: [] },
      { fingerprint: 'd', counts: { Error: 1 }, facts: { x: 4 }, sample: ['z'] },
      { fingerprint: 'd', counts: { Error: 5 }, facts: { x: 4 }, sample: ['y', 'x', 'w', 'v', 'u'] },
    ];
    const clusters = mergeClusters(parts);
    expect(clusters.map((c) => [c.fingerprint, c.servers])).toEqual([['d', 6], ['a', 2], ['b', 2]]);
    expect(clusters[0]!.sample).toEqual(['u', 'v', 'w', 'x', 'y']);
    expect(clusters[0]!.counts).toEqual({ Pass: 0, Warning: 0, Error: 6, NotApplicable: 0, Unknown: 0 });
  });

  it('many clusters of one size come in fingerprint order (code units), whatever order they are read in', () => {
    fc.assert(
      fc.property(names, (fingerprints) => {
        const parts = fingerprints.map((fingerprint) => ({ fingerprint, counts: { Pass: 1 }, facts: {}, sample: [fingerprint] }));
        const expected = [...fingerprints].sort();
        expect(mergeClusters(parts).map((c) => c.fingerprint)).toEqual(expected);
        expect(mergeClusters([...parts].reverse()).map((c) => c.fingerprint)).toEqual(expected);
      }),
      RUNS,
    );
  });

  it('a sample is the first servers in name order, from any number of them', () => {
    fc.assert(
      fc.property(names, fc.integer({ min: 1, max: 100 }), (servers, size) => {
        const [cluster] = mergeClusters([{ fingerprint: 'f', counts: { Pass: servers.length }, facts: {}, sample: servers }], size);
        expect(cluster!.sample).toEqual([...servers].sort().slice(0, size));
      }),
      RUNS,
    );
  });

  const fleetArb = fc.uniqueArray(
    fc.record({
      server: fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/),
      fingerprint: fc.constantFrom('fp1', 'fp2', 'fp3', 'fp4'),
      status: fc.constantFrom(...STATUSES),
    }),
    { selector: (m) => m.server, maxLength: 60 },
  ).map((ms) => ms.map((m) => ({ ...m, facts: { f: m.fingerprint } as Facts })));

  it('every server counted once, in its own cluster and status; sizes descending', () => {
    fc.assert(
      fc.property(fleetArb, (fleet) => {
        const clusters = clusterFleet(fleet);
        expect(clusters.reduce((n, c) => n + c.servers, 0)).toBe(fleet.length);
        for (const c of clusters) {
          const mine = fleet.filter((m) => m.fingerprint === c.fingerprint);
          expect(c.servers).toBe(mine.length);
          for (const s of STATUSES) expect(c.counts[s]).toBe(mine.filter((m) => m.status === s).length);
          expect(c.sample).toEqual(mine.map((m) => m.server).sort().slice(0, 5));
          expect(c.facts).toEqual({ f: c.fingerprint });
        }
        for (let i = 1; i < clusters.length; i++) expect(clusters[i - 1]!.servers).toBeGreaterThanOrEqual(clusters[i]!.servers);
      }),
      RUNS,
    );
  });

  it('counted in any shards and read in any order, the clusters are the same', () => {
    fc.assert(
      fc.property(fleetArb, fc.integer({ min: 1, max: 16 }), fc.array(fc.integer(), { minLength: 1 }), (fleet, shards, order) => {
        // Per (fingerprint, shard) counters, each holding its shard's servers as its sample.
        const byShard = new Map<string, ClusterPart & { counts: Record<string, number>; sample: string[] }>();
        fleet.forEach((m, i) => {
          const key = `${m.fingerprint}|${i % shards}`;
          const p = byShard.get(key) ?? { fingerprint: m.fingerprint, counts: {}, facts: m.facts, sample: [] };
          p.counts[m.status] = (p.counts[m.status] ?? 0) + 1;
          p.sample.push(m.server);
          byShard.set(key, p);
        });
        const parts = [...byShard.values()];
        const shuffled = parts.map((p, i) => ({ p, k: order[i % order.length]! })).sort((a, b) => a.k - b.k).map((x) => x.p);
        expect(mergeClusters(shuffled)).toEqual(clusterFleet(fleet));
      }),
      RUNS,
    );
  });
});

describe('fact differences', () => {
  const value = fc.oneof(fc.constantFrom(null, true, false, 'on', 'off', 25), fc.uniqueArray(fc.constantFrom('a.exe', 'b.exe', '*'), { maxLength: 3 }).map((a) => a.sort()));
  const facts = fc.dictionary(fc.constantFrom('p', 'q', 'r', 's', 't'), value, { maxKeys: 5 });

  it('lists the fields in name order (code units), however many', () => {
    fc.assert(
      fc.property(names, (fields) => {
        const server = Object.fromEntries(fields.map((f) => [f, 1]));
        const reference = Object.fromEntries(fields.map((f) => [f, 2]));
        expect(diffFacts(server, reference).map((d) => d.field)).toEqual([...fields].sort());
      }),
      RUNS,
    );
  });

  it('none against itself; the same fields both ways, added and missing swapped; nothing else differs', () => {
    fc.assert(
      fc.property(facts, facts, (a, b) => {
        expect(diffFacts(a, a)).toEqual([]);
        const ab = diffFacts(a, b);
        const ba = diffFacts(b, a);
        expect(ab.map((d) => d.field)).toEqual(ba.map((d) => d.field));
        const swap = { added: 'missing', missing: 'added', changed: 'changed' } as const;
        expect(ba.map((d) => d.change)).toEqual(ab.map((d) => swap[d.change]));
        const differing = new Set(ab.map((d) => d.field));
        for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
          if (!differing.has(k)) expect(JSON.stringify(a[k])).toBe(JSON.stringify(b[k]));
        }
        for (const d of ab) {
          expect(d.server).toEqual(a[d.field] ?? null);
          expect(d.reference).toEqual(b[d.field] ?? null);
        }
      }),
      RUNS,
    );
  });

  it('a field set to null is still a field: present-null and absent differ', () => {
    expect(diffFacts({ a: null }, {})).toEqual([{ field: 'a', change: 'added', server: null, reference: null }]);
  });
});
