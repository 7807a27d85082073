// What the answer to a server's removal says still names it, without storage: the drift baselines
// of rules with configuration facts and the active waivers that name the server, each as a warning
// with what to do; a failed read as one warning that says where to look. The service tests remove
// servers over HTTP with both left in place.
import { describe, expect, it } from 'vitest';
import { removalLeftovers, type RemovalLeftoversDeps } from '../../src/app/removal-leftovers';
import { RULES } from '../../src/rules/registry';
import type { Rule } from '../../src/rules/types';

const T = Date.parse('2026-12-31T00:00:00.000Z');
const [drifting] = RULES;
/** A rule without configuration facts has no baseline to read. */
const plain = { ...drifting!, id: 'no-drift-rule', configurationFacts: undefined } as Rule;
const second = { ...drifting!, id: 'second-rule' } as Rule;

function deps(opts: { baselines?: Record<string, string>; waivers?: { id: string; server: string; expiresAt: number }[]; fail?: Error; rules?: readonly Rule[] } = {}) {
  const asked: string[] = [];
  const d: RemovalLeftoversDeps = {
    rules: opts.rules ?? [drifting!, plain],
    baselines: {
      get: async (ruleId: string) => {
        asked.push(ruleId);
        if (opts.fail) throw opts.fail;
        const server = opts.baselines?.[ruleId];
        return server === undefined ? undefined : ({ ruleId, server } as never);
      },
    },
    waivers: { active: async () => (opts.waivers ?? []) as never },
  };
  return { d, asked };
}

describe('removalLeftovers', () => {
  it('says nothing when no baseline or waiver names the server', async () => {
    const { d, asked } = deps({ baselines: { 'mcafee-port25-blocked': 'ex02' }, waivers: [{ id: 'w1', server: 'ex02', expiresAt: T }] });
    expect(await removalLeftovers(d, 'ex01')).toEqual([]);
    // Only rules with configuration facts have a baseline to ask for.
    expect(asked).toEqual(['mcafee-port25-blocked']);
  });

  it('names each baseline that is the server, with how to name another or clear it', async () => {
    const { d } = deps({ rules: [drifting!, second, plain], baselines: { 'mcafee-port25-blocked': 'ex01', 'second-rule': 'ex01' } });
    expect(await removalLeftovers(d, 'ex01')).toEqual(
      ['mcafee-port25-blocked', 'second-rule'].map((rule) => ({
        code: 'baseline_names_removed_server',
        rule,
        message: `ex01 stays the drift baseline of ${rule} with no configuration recorded any more, so servers are measured against the largest configuration until an admin names another server or clears the baseline (PUT or DELETE /api/baselines/${rule}).`,
      })),
    );
  });

  it('names each active waiver for the server, until when, and how to end it', async () => {
    const { d } = deps({
      waivers: [
        { id: 'w1', server: 'ex01', expiresAt: T },
        { id: 'w2', server: 'ex02', expiresAt: T },
        { id: 'w3', server: 'ex01', expiresAt: T + 1000 },
      ],
    });
    expect(await removalLeftovers(d, 'ex01')).toEqual([
      { code: 'waiver_names_removed_server', waiver: 'w1', message: 'Waiver w1 names ex01 and stays in force until 2026-12-31T00:00:00.000Z, covering nothing unless the server posts again; end it with DELETE /api/waivers/w1.' },
      { code: 'waiver_names_removed_server', waiver: 'w3', message: 'Waiver w3 names ex01 and stays in force until 2026-12-31T00:00:01.000Z, covering nothing unless the server posts again; end it with DELETE /api/waivers/w3.' },
    ]);
  });

  it('puts the baselines before the waivers', async () => {
    const { d } = deps({ baselines: { 'mcafee-port25-blocked': 'ex01' }, waivers: [{ id: 'w1', server: 'ex01', expiresAt: T }] });
    expect((await removalLeftovers(d, 'ex01')).map((w) => w.code)).toEqual(['baseline_names_removed_server', 'waiver_names_removed_server']);
  });

  it('turns a failed read into one warning that the removal is done and where to look', async () => {
    const { d } = deps({ rules: [drifting!, second], fail: new Error('storage unavailable') });
    expect(await removalLeftovers(d, 'ex01')).toEqual([
      {
        code: 'names_not_checked',
        message:
          'The removal is done, but whether a drift baseline or a waiver still names ex01 could not be read (storage unavailable); see GET /api/waivers and GET /api/baselines/mcafee-port25-blocked and GET /api/baselines/second-rule.',
      },
    ]);
    const failingWaivers = deps();
    failingWaivers.d = { ...failingWaivers.d, waivers: { active: async () => Promise.reject(new Error('timeout')) } };
    expect((await removalLeftovers(failingWaivers.d, 'ex01'))[0]!.message).toContain('could not be read (timeout); see GET /api/waivers and GET /api/baselines/mcafee-port25-blocked.');
  });
});
