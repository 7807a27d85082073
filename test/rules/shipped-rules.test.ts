// The registry's three lists of rule ids held together, and the order of two rule sets that lets an
// old instance during a deployment leave a newer release's rows alone (src/rules/rule-set-order.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RETIRED_RULE_IDS, RULES, SHIPPED_RULE_IDS } from '../../src/rules/registry';
import { compareVersions, heldByNewerRelease, isNewerRule, isNewerRuleSet, ruleSetViewOf, type RuleSetView } from '../../src/rules/rule-set-order';

describe('the registry\'s rule ids', () => {
  it('lists every loaded rule as shipped, once', () => {
    expect(new Set(SHIPPED_RULE_IDS).size).toBe(SHIPPED_RULE_IDS.length);
    for (const r of RULES) expect(SHIPPED_RULE_IDS, r.id).toContain(r.id);
  });

  it('has every shipped rule either loaded or retired, never both', () => {
    const loaded = new Set(RULES.map((r) => r.id));
    for (const id of SHIPPED_RULE_IDS) expect(loaded.has(id) !== RETIRED_RULE_IDS.includes(id), id).toBe(true);
    for (const id of RETIRED_RULE_IDS) expect(SHIPPED_RULE_IDS, id).toContain(id);
  });
});

const view = (versions: Record<string, string>, retired: string[] = []): RuleSetView => ({ versions, retired });

describe('which rule set is newer', () => {
  const mine = view({ a: '1.2.0', b: '1.0.0' }, ['old']);

  it('orders versions by their numbers', () => {
    expect(compareVersions('1.10.0', '1.9.0')).toBeGreaterThan(0);
    expect(compareVersions('2.0.0', '2.0.0')).toBe(0);
  });

  it('takes a row of an unknown rule, or of a higher version, for a newer release\'s', () => {
    expect(isNewerRule('c', '1.0.0', mine)).toBe(true);
    expect(isNewerRule('a', '1.10.0', mine)).toBe(true);
    expect(isNewerRule('a', '1.2.0', mine)).toBe(false);
    expect(isNewerRule('a', '1.1.0', mine)).toBe(false);
    expect(isNewerRule('old', '9.0.0', mine)).toBe(false);
  });

  it('takes a set that adds, raises or retires a rule this one loads for newer', () => {
    expect(isNewerRuleSet(view({ a: '1.2.0', b: '1.0.0', c: '1.0.0' }), mine)).toBe(true);
    expect(isNewerRuleSet(view({ a: '1.3.0', b: '1.0.0' }), mine)).toBe(true);
    expect(isNewerRuleSet(view({ a: '1.2.0' }, ['b']), mine)).toBe(true);
    // A set without b that does not retire it is one from before b was added.
    expect(isNewerRuleSet(view({ a: '1.2.0' }), mine)).toBe(false);
    expect(isNewerRuleSet(view({ a: '1.2.0', b: '1.0.0' }, ['old']), mine)).toBe(false);
  });

  it('never takes a set for newer than itself, and of a release and the next, only the next', () => {
    const ids = fc.constantFrom('a', 'b', 'c', 'd');
    const versions = fc.dictionary(ids, fc.constantFrom('1.0.0', '1.1.0', '2.0.0'));
    fc.assert(
      fc.property(versions, fc.uniqueArray(ids), ids, (v, retiring, added) => {
        const retiredNow: readonly string[] = retiring;
        const before = view(v);
        expect(isNewerRuleSet(before, before)).toBe(false);
        // The next release adds a rule, raises every version and retires some of the rules it had.
        const kept = Object.entries(v).filter(([id]) => !retiredNow.includes(id));
        const retired = Object.keys(v).filter((id) => retiredNow.includes(id));
        const next = view({ ...Object.fromEntries(kept.map(([id, ver]) => [id, ver.replace(/^(\d+)/, (m) => String(Number(m) + 1))])), ...(v[added] === undefined && !retiredNow.includes(added) ? { [added]: '1.0.0' } : {}) }, retired);
        const changed = JSON.stringify(next.versions) !== JSON.stringify(before.versions) || retired.length > 0;
        expect(isNewerRuleSet(next, before)).toBe(changed);
        expect(isNewerRuleSet(before, next)).toBe(false);
      }),
    );
  });
});

describe('the loaded rule set as instances compare it', () => {
  const loaded = (id: string, version: string) => ({ ...RULES[0]!, id, version });

  it('is the same, JSON included, whatever order the rules are loaded in', () => {
    const expected = '{"versions":{"a":"1.0.0","b":"2.0.0","c":"1.1.0"},"retired":["old","older"]}';
    expect(JSON.stringify(ruleSetViewOf([loaded('a', '1.0.0'), loaded('b', '2.0.0'), loaded('c', '1.1.0')], ['old', 'older']))).toBe(expected);
    expect(JSON.stringify(ruleSetViewOf([loaded('c', '1.1.0'), loaded('b', '2.0.0'), loaded('a', '1.0.0')], ['older', 'old']))).toBe(expected);
    expect(JSON.stringify(ruleSetViewOf([loaded('b', '2.0.0'), loaded('a', '1.0.0'), loaded('c', '1.1.0')], ['old', 'older']))).toBe(expected);
  });
});

describe('rows a newer release wrote', () => {
  const mine = view({ a: '1.2.0' });
  const NOW = Date.parse('2026-12-04T12:00:00Z');
  const MIN = 60_000;

  it('hold an older release off for an hour after they were last written, counting the newest commit', () => {
    const newer = { ruleId: 'a', ruleVersion: '1.3.0' };
    expect(heldByNewerRelease([{ ...newer, lastSeen: NOW - 59 * MIN }], mine, NOW)).toBe(true);
    expect(heldByNewerRelease([{ ...newer, lastSeen: NOW - 60 * MIN }], mine, NOW)).toBe(false);
    expect(heldByNewerRelease([{ ...newer, lastSeen: NOW - 3 * 60 * MIN }], mine, NOW)).toBe(false);
    // A commit newer than lastSeen is the last write.
    expect(heldByNewerRelease([{ ...newer, lastSeen: NOW - 3 * 60 * MIN, recentCommits: [{ at: NOW - 10 * MIN }] }], mine, NOW)).toBe(true);
    expect(heldByNewerRelease([{ ...newer, lastSeen: NOW - 10 * MIN, recentCommits: [{ at: NOW - 3 * 60 * MIN }] }], mine, NOW)).toBe(true);
    expect(heldByNewerRelease([{ ...newer, lastSeen: NOW - 2 * 60 * MIN, recentCommits: [] }], mine, NOW)).toBe(false);
  });

  it('hold nothing when every row is of a rule this release has reached, however recent', () => {
    expect(heldByNewerRelease([{ ruleId: 'a', ruleVersion: '1.2.0', lastSeen: NOW }], mine, NOW)).toBe(false);
    expect(heldByNewerRelease([{ ruleId: 'a', ruleVersion: '1.2.0', lastSeen: NOW }, { ruleId: 'b', ruleVersion: '1.0.0', lastSeen: NOW - MIN }], mine, NOW)).toBe(true);
    expect(heldByNewerRelease([], mine, NOW)).toBe(false);
  });
});
