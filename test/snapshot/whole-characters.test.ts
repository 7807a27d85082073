// Half of a UTF-16 surrogate pair in any string of a snapshot: refused at the first such string's
// path. Taken, it came back in the answers (the servers list, results, history, drift) as a bare
// \ud800 escape, which strict JSON readers (.NET's System.Text.Json) refuse for the whole page.
import { describe, expect, it } from 'vitest';
import { parseSnapshot } from '../../src/snapshot/parse';
import { wholeCharacters } from '../../src/snapshot/whole-characters';
import { sampleSnapshot } from './sample';

const NOW = Date.parse('2026-11-28T01:02:00.000Z');
const HALF = 'must be whole characters: it holds half of a UTF-16 surrogate pair (a character cut in two), which strict JSON readers of the answers cannot decode';
/** Halves of a pair: high alone, low alone, the two in the wrong order, and a high one at the very end. */
const HALVES = { high: 'a\ud800b', low: 'a\udc00b', reversed: 'a\udc00\ud800b', last: 'ab\udbff' };

function issuesOf(mutate: (s: Record<string, any>) => void): { path: string; message: string }[] {
  const s = sampleSnapshot() as Record<string, any>;
  mutate(s);
  const r = parseSnapshot(s, { now: NOW });
  return r.ok ? [] : [...r.issues];
}

/** Every string of the contract a sender writes freely, by its path in the sample, and how to set it. */
const FREE_STRINGS: [string, (s: any, v: string) => void][] = [
  ['collector.name', (s, v) => (s.collector.name = v)],
  ['collector.version', (s, v) => (s.collector.version = v)],
  ['collector.manifestVersion', (s, v) => (s.collector.manifestVersion = v)],
  ['host.os.caption', (s, v) => (s.host.os.caption = v)],
  ['host.os.version', (s, v) => (s.host.os.version = v)],
  ['host.os.architecture', (s, v) => (s.host.os.architecture = v)],
  ['registry[0].path', (s, v) => (s.registry[0].path = `HKLM\\SOFTWARE\\${v}`)],
  ['registry[0].values[1].name', (s, v) => (s.registry[0].values[1].name = v)],
  ['registry[0].values[1].data', (s, v) => (s.registry[0].values[1].data = v)],
  ['registry[0].values[1].data', (s, v) => (s.registry[0].values[1] = { name: 'x', type: 'REG_EXPAND_SZ', data: v })],
  ['registry[0].values[1].data[1]', (s, v) => (s.registry[0].values[1] = { name: 'x', type: 'REG_MULTI_SZ', data: ['a', v] })],
  ['registry[2].error.message', (s, v) => (s.registry[2].error.message = v)],
  ['services[1].name', (s, v) => (s.services[1].name = v)],
  ['services[1].displayName', (s, v) => (s.services[1].displayName = v)],
  ['services[1].state', (s, v) => (s.services[1].state = v)],
  ['services[1].startMode', (s, v) => (s.services[1].startMode = v)],
  ['services[1].pathName', (s, v) => (s.services[1].pathName = v)],
  ['files[0].path', (s, v) => (s.files[0].path = v)],
  ['files[0].tail', (s, v) => (s.files[0].tail = v)],
  ['files[0].pathFrom.registryPath', (s, v) => (s.files[0].pathFrom = { registryPath: `HKLM\\SOFTWARE\\${v}`, view: '32', valueName: 'x' })],
  ['files[0].pathFrom.valueName', (s, v) => (s.files[0].pathFrom = { registryPath: 'HKLM\\SOFTWARE\\X', view: '32', valueName: v })],
];

describe('half of a surrogate pair in a snapshot', () => {
  it.each(FREE_STRINGS)('at %s is refused there, in one sentence', (path, set) => {
    for (const [kind, half] of Object.entries(HALVES)) {
      expect(
        issuesOf((s) => set(s, half)),
        kind,
      ).toEqual([{ path, message: HALF }]);
    }
  });

  it('arrives as a JSON escape, as a sender writes it, and is refused the same', () => {
    const text = JSON.stringify(sampleSnapshot()).replace('"Send-PostureSnapshot"', '"col\\ud800x"');
    expect(text).toContain('col\\ud800x');
    const r = parseSnapshot(JSON.parse(text), { now: NOW });
    expect(r.ok ? [] : r.issues).toEqual([{ path: 'collector.name', message: HALF }]);
  });

  it('in many strings is named once, at the first in the contract\'s order, beside every other issue', () => {
    expect(
      issuesOf((s) => {
        s.files[0].tail = '\ud800';
        s.services[0].pathName = '\udc00';
        s.registry[0].values[0] = { name: 'x', type: 'REG_MULTI_SZ', data: Array.from({ length: 1000 }, () => '\ud800') };
        s.host.os.caption = 'x'.repeat(257) + '\ud800';
        s.services[1].started = 'yes';
      }),
    ).toEqual([
      { path: 'host.os.caption', message: HALF },
      { path: 'host.os.caption', message: 'must be at most 256 characters long' },
      { path: 'services[1].started', message: 'must be a boolean' },
    ]);
  });

  it('is named at its string when another issue comes before it in the contract\'s order', () => {
    expect(
      issuesOf((s) => {
        s.services[1].started = 'yes';
        s.files[0].tail = '\ud800';
      }),
    ).toEqual([
      { path: 'services[1].started', message: 'must be a boolean' },
      { path: 'files[0].tail', message: HALF },
    ]);
  });

  it('in a string a pattern confines is told by that pattern alone', () => {
    expect(issuesOf((s) => (s.host.name = 'EXCH\ud800'))).toEqual([
      { path: 'host.name', message: 'host name must be 1-63 letters, digits, hyphens or underscores, not starting or ending with a hyphen' },
    ]);
    expect(issuesOf((s) => (s.snapshotId = '\ud800'))).toEqual([{ path: 'snapshotId', message: 'snapshotId must be a UUID' }]);
  });

  it('is not a whole pair, a control character, U+FFFD or the highest characters: those are taken as sent', () => {
    const kept = `\u{1F600} \u{10FFFF} \ud83d\ude00 \t\r\n\u0000\u007f \uFFFD \uD7FF\uE000`;
    const s = sampleSnapshot() as Record<string, any>;
    for (const [, set] of FREE_STRINGS.filter(([p]) => !p.includes('path') && !p.endsWith('data[1]'))) set(s, kept);
    s.registry[0].path = `HKLM\\SOFTWARE\\${kept.replace(/\s/g, '')}`;
    const r = parseSnapshot(s, { now: NOW });
    expect(r.ok ? [] : r.issues).toEqual([]);
    if (r.ok) expect(r.snapshot.files[0]!.tail).toBe(kept);
  });
});

describe('wholeCharacters', () => {
  it('tells a half pair anywhere from whole characters', () => {
    for (const half of [...Object.values(HALVES), '\ud800', '\udfff', '\udbff\udbff\udc00']) expect(wholeCharacters(half), JSON.stringify(half)).toBe(false);
    for (const whole of ['', 'plain', '\u{1F600}', '\ud800\udc00', '\udbff\udfff', '\uFFFD', '\u0000']) expect(wholeCharacters(whole), JSON.stringify(whole)).toBe(true);
  });
});
