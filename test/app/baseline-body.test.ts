// A drift baseline on the wire, without storage: every refusal of a PUT body (one sentence naming
// the field), what an accepted body becomes, and the views GET and PUT answer with and without a
// baseline named. The service tests name, change and clear baselines over HTTP against Azurite.
import { describe, expect, it } from 'vitest';
import { baselineView, noBaselineView, readBaselineBody } from '../../src/app/baseline-body';
import { ApiError } from '../../src/app/errors';
import type { StoredBaseline } from '../../src/store';

/** The sentence `readBaselineBody` refuses with (code invalid_baseline), or a failure when it accepts. */
function refusal(doc: unknown): string {
  try {
    readBaselineBody(doc);
  } catch (error) {
    if (error instanceof ApiError && error.code === 'invalid_baseline') return error.message;
    throw error;
  }
  throw new Error(`accepted: ${JSON.stringify(doc)}`);
}

describe('readBaselineBody', () => {
  it('takes the server as the id its snapshots give, and who set it, both trimmed', () => {
    expect(readBaselineBody({ server: ' EXCH1.Contoso.com. ', setBy: ' alice ' })).toStrictEqual({ server: 'exch1.contoso.com', setBy: 'alice' });
    expect(readBaselineBody({ server: 'x'.repeat(63), setBy: 's'.repeat(200) })).toStrictEqual({ server: 'x'.repeat(63), setBy: 's'.repeat(200) });
  });

  it('is one JSON object', () => {
    for (const doc of [null, [], 'exch1', 3, undefined]) expect(refusal(doc)).toBe('The body must be one JSON object: {"server": "<server id>", "setBy": "<who>"}.');
  });

  it('refuses any other field, naming at most 50 characters of it', () => {
    expect(refusal({ server: 'exch1', setBy: 'a', rule: 'x' })).toBe('Unknown field "rule"; a baseline has server and setBy.');
    expect(refusal({ server: 'exch1', setBy: 'a', ['y'.repeat(60)]: 1 })).toBe(`Unknown field "${'y'.repeat(50)}"; a baseline has server and setBy.`);
  });

  it('needs a server id of at most 253 characters', () => {
    expect(refusal({ setBy: 'a' })).toBe('"server" is required and must be a non-empty string.');
    expect(refusal({ server: 'x'.repeat(254), setBy: 'a' })).toBe('"server" must be at most 253 characters.');
    expect(refusal({ server: 'exch_1!', setBy: 'a' })).toBe('"server" must be a server id (a host name or fqdn, as the snapshot sent it), not "exch_1!".');
    expect(refusal({ server: `!${'x'.repeat(200)}`, setBy: 'a' })).toBe(`"server" must be a server id (a host name or fqdn, as the snapshot sent it), not "!${'x'.repeat(99)}".`);
  });

  it('needs who set it, at most 200 characters', () => {
    expect(refusal({ server: 'exch1' })).toBe('"setBy" is required and must be a non-empty string.');
    expect(refusal({ server: 'exch1', setBy: ' ' })).toBe('"setBy" is required and must be a non-empty string.');
    expect(refusal({ server: 'exch1', setBy: 's'.repeat(201) })).toBe('"setBy" must be at most 200 characters.');
  });
});

describe('the views', () => {
  const stored = (server: string): StoredBaseline => ({ ruleId: 'mcafee-port25-blocked', server, setBy: 'alice', setAt: Date.parse('2026-12-06T10:00:00Z'), revision: 3, etag: 'e' }) as StoredBaseline;

  it('answer a named baseline with its rule, server, who, when and revision', () => {
    expect(baselineView(stored('exch1'))).toStrictEqual({ rule: 'mcafee-port25-blocked', server: 'exch1', setBy: 'alice', setAt: '2026-12-06T10:00:00.000Z', revision: 3 });
  });

  it('answer a cleared baseline with server null', () => {
    expect(baselineView(stored(''))).toMatchObject({ server: null, setBy: 'alice', revision: 3 });
  });

  it('answer a rule without one with nulls, at revision 0 unless one was cleared', () => {
    expect(noBaselineView('mcafee-port25-blocked')).toStrictEqual({ rule: 'mcafee-port25-blocked', server: null, setBy: null, setAt: null, revision: 0 });
    expect(noBaselineView('mcafee-port25-blocked', 4).revision).toBe(4);
  });
});
