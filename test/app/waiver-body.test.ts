// A waiver on the wire, without storage: every refusal of a PUT body (one sentence naming the
// field), what an accepted body becomes, and the view GET answers. The service tests send the same
// bodies over HTTP and store them in Azurite.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/app/errors';
import { inForceAt, overdueAt, readWaiverBody, waiverView } from '../../src/app/waiver-body';
import { RULES } from '../../src/rules/registry';
import { DAY_MS as DAY, WAIVER_NOW as NOW, waiverRecord as record } from '../support/waiver-records';

const RULE = 'mcafee-port25-blocked';

const validate = (id: string, doc: unknown) => readWaiverBody(id, doc, { rules: RULES, now: NOW, maxDays: 90 });

const body = (over: Record<string, unknown> = {}) => ({ rule: RULE, server: 'exch1.contoso.com', justification: 'ePO push on Friday', grantedBy: 'alice', expiresAt: '2027-01-31T00:00:00Z', ...over });

/** The sentence `validate` refuses with (code invalid_waiver), or a failure when it accepts. */
function refusal(doc: unknown, id = 'w-1'): string {
  try {
    validate(id, doc);
  } catch (error) {
    if (error instanceof ApiError && error.code === 'invalid_waiver') return error.message;
    throw error;
  }
  throw new Error(`accepted: ${JSON.stringify(doc)}`);
}

describe('validate: the id', () => {
  const message = 'The waiver id must be 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit.';

  it('is 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit', () => {
    for (const id of ['a', '7', 'A.b_c-d', 'x'.repeat(64)]) expect(validate(id, body()).ruleId, id).toBe(RULE);
    for (const id of ['', '-a', '.a', '_a', 'x'.repeat(65), 'a b', 'a/b', 'é', 'a\n']) expect(refusal(body(), id), id).toBe(message);
  });

  it('may be repeated in the body, but only as in the path', () => {
    expect(validate('w-1', body({ id: 'w-1' })).server).toBe('exch1.contoso.com');
    expect(refusal(body({ id: 'w-2' }))).toBe('The "id" in the body must match the id in the path.');
  });
});

describe('validate: the body', () => {
  it('is one JSON object', () => {
    for (const doc of [null, [], [body()], 'waiver', 5, true, undefined]) expect(refusal(doc)).toBe('The body must be one JSON object describing the waiver.');
  });

  it('refuses a field it does not know, naming at most 50 characters of it', () => {
    expect(refusal(body({ rules: RULE }))).toBe('Unknown field "rules"; a waiver has rule, server or serverPattern, justification, grantedBy and expiresAt.');
    expect(refusal(body({ ['x'.repeat(80)]: 1 }))).toBe(`Unknown field "${'x'.repeat(50)}"; a waiver has rule, server or serverPattern, justification, grantedBy and expiresAt.`);
  });

  it('ignores what GET answers and the service sets, so a body read back may be sent again', () => {
    const readBack = { grantedAt: 'x', changedAt: 'x', state: 'x', endedAt: 'x', revision: 'x', coveredServers: 'x', coveredServersAtLeast: 'x', warnings: 'x' };
    expect(validate('w-1', body({ id: 'w-1', serverPattern: null, ...readBack }))).toStrictEqual(validate('w-1', body()));
  });

  it('becomes the waiver it describes, its texts trimmed', () => {
    expect(validate('w-1', body({ justification: '  ePO push  ', grantedBy: '\talice ', expiresAt: ' 2027-01-31T01:00:00+01:00 ' }))).toStrictEqual({
      ruleId: RULE,
      server: 'exch1.contoso.com',
      serverPattern: undefined,
      justification: 'ePO push',
      grantedBy: 'alice',
      expiresAt: Date.parse('2027-01-31T00:00:00Z'),
    });
  });
});

describe('validate: the rule', () => {
  it('is one of the loaded rules, in any case', () => {
    expect(validate('w-1', body({ rule: 'McAfee-Port25-Blocked' })).ruleId).toBe(RULE);
    expect(refusal(body({ rule: 'port25' }))).toBe(`Unknown rule "port25"; the rules are ${RULES.map((r) => r.id).join(', ')}.`);
  });

  it('names every loaded rule when it is none of them', () => {
    const rules = [...RULES, { ...RULES[0]!, id: 'second-rule' }];
    expect(() => readWaiverBody('w-1', body({ rule: 'port25' }), { rules, now: NOW, maxDays: 90 })).toThrow(`Unknown rule "port25"; the rules are ${RULES[0]!.id}, second-rule.`);
  });

  it('is a required text of at most 100 characters', () => {
    expect(refusal(body({ rule: undefined }))).toBe('"rule" is required and must be a non-empty string.');
    expect(refusal(body({ rule: 'x'.repeat(101) }))).toBe('"rule" must be at most 100 characters.');
    expect(refusal(body({ rule: 'x'.repeat(100) }))).toBe(`Unknown rule "${'x'.repeat(100)}"; the rules are ${RULES.map((r) => r.id).join(', ')}.`);
  });
});

describe('validate: server or serverPattern', () => {
  const oneOf = 'Give exactly one of "server" (a server id) and "serverPattern" (with * or ? wildcards).';

  it('is exactly one of the two, null counting as none', () => {
    expect(refusal(body({ serverPattern: 'exch*' }))).toBe(oneOf);
    expect(refusal(body({ server: undefined }))).toBe(oneOf);
    expect(refusal(body({ server: null, serverPattern: null }))).toBe(oneOf);
    expect(validate('w-1', body({ server: null, serverPattern: 'exch*' }))).toMatchObject({ server: undefined, serverPattern: 'exch*' });
    expect(validate('w-1', body({ serverPattern: null }))).toMatchObject({ server: 'exch1.contoso.com', serverPattern: undefined });
  });

  it('takes a server as the id its snapshots give: lower case, without a trailing dot', () => {
    expect(validate('w-1', body({ server: ' EXCH1.Contoso.COM. ' })).server).toBe('exch1.contoso.com');
    expect(refusal(body({ server: 'exch 1' }))).toBe('"server" must be a server id (a host name or fqdn, as the snapshot sent it), not "exch 1".');
    expect(refusal(body({ server: `-${'x'.repeat(150)}` }))).toBe(`"server" must be a server id (a host name or fqdn, as the snapshot sent it), not "-${'x'.repeat(99)}".`);
    expect(refusal(body({ server: 'x'.repeat(254) }))).toBe('"server" must be at most 253 characters.');
    expect(refusal(body({ server: 5 }))).toBe('"server" is required and must be a non-empty string.');
  });

  it('takes a pattern in lower case, of letters, digits, dots, dashes, underscores and wildcards', () => {
    const pattern = (p: string) => validate('w-1', body({ server: undefined, serverPattern: p })).serverPattern;
    const patternRefusal = (p: unknown) => refusal(body({ server: undefined, serverPattern: p }));
    expect(pattern('EXCH-??.Contoso.com')).toBe('exch-??.contoso.com');
    expect(pattern('*_dag1*')).toBe('*_dag1*');
    expect(pattern('?'.repeat(252) + 'x')).toBe('?'.repeat(252) + 'x');
    for (const p of ['exch *', 'exch/*', 'exch[1]*', 'exch\u00e9*']) expect(patternRefusal(p), p).toBe('"serverPattern" may hold only letters, digits, dots, dashes, underscores and the wildcards * and ?.');
    expect(patternRefusal('*'.repeat(254))).toBe('"serverPattern" must be at most 253 characters.');
  });

  it('refuses a pattern without a wildcard, and one that names the whole fleet', () => {
    expect(refusal(body({ server: undefined, serverPattern: 'exch1' }))).toBe('"serverPattern" has no wildcard; use "server" for one server.');
    for (const p of ['*', '?', '*.*', '?.?*.']) {
      expect(refusal(body({ server: undefined, serverPattern: p })), p).toBe('"serverPattern" must name some servers, not the whole fleet; a waiver may not silence a rule for everyone.');
    }
    for (const p of ['a*', '*0', '*_', '-*']) expect(validate('w-1', body({ server: undefined, serverPattern: p })).serverPattern, p).toBe(p);
  });
});

describe('validate: justification and grantedBy', () => {
  it('are required texts of at most 2,000 and 200 characters', () => {
    expect(validate('w-1', body({ justification: 'j'.repeat(2000), grantedBy: 'g'.repeat(200) }))).toMatchObject({ justification: 'j'.repeat(2000), grantedBy: 'g'.repeat(200) });
    expect(refusal(body({ justification: 'j'.repeat(2001) }))).toBe('"justification" must be at most 2000 characters.');
    expect(refusal(body({ grantedBy: 'g'.repeat(201) }))).toBe('"grantedBy" must be at most 200 characters.');
    expect(refusal(body({ justification: '   ' }))).toBe('"justification" is required and must be a non-empty string.');
    expect(refusal(body({ grantedBy: undefined }))).toBe('"grantedBy" is required and must be a non-empty string.');
  });
});

describe('validate: expiresAt', () => {
  const format = '"expiresAt" must be an existing ISO 8601 date and time with a zone, such as 2027-03-31T00:00:00Z.';

  it('is required', () => {
    expect(refusal(body({ expiresAt: undefined }))).toBe('"expiresAt" is required: every waiver needs an end date.');
  });

  it('is an existing ISO 8601 instant with its time and zone', () => {
    for (const expiresAt of [Date.parse('2027-01-31T00:00:00Z'), null, '2027-01-31', '2027-01-31T00:00:00', '2027-02-30T00:00:00Z', 'next Friday']) {
      expect(refusal(body({ expiresAt })), String(expiresAt)).toBe(format);
    }
  });

  it('is in the future and at most the configured days ahead', () => {
    const at = (ms: number) => body({ expiresAt: new Date(ms).toISOString() });
    expect(refusal(at(NOW))).toBe('"expiresAt" must be in the future.');
    expect(refusal(at(NOW - DAY))).toBe('"expiresAt" must be in the future.');
    expect(validate('w-1', at(NOW + 1)).expiresAt).toBe(NOW + 1);
    expect(validate('w-1', at(NOW + 90 * DAY)).expiresAt).toBe(NOW + 90 * DAY);
    expect(refusal(at(NOW + 90 * DAY + 1))).toBe('"expiresAt" may be at most 90 days from now (POSTURE_WAIVER_MAX_DAYS).');
  });
});

describe('waiverView', () => {
  it('answers every field, the one of server and pattern it lacks as null, times in ISO 8601', () => {
    expect(waiverView(record({ server: 'exch1' }), NOW)).toStrictEqual({
      id: 'w-1',
      rule: RULE,
      server: 'exch1',
      serverPattern: null,
      justification: 'j',
      grantedBy: 'g',
      grantedAt: '2026-12-05T10:00:00.000Z',
      expiresAt: '2026-12-07T10:00:00.000Z',
      changedAt: '2026-12-05T10:00:00.000Z',
      state: 'active',
      endedAt: null,
      revision: 1,
    });
    expect(waiverView(record({ serverPattern: 'exch*', state: 'deleted', endedAt: NOW }), NOW)).toMatchObject({ server: null, serverPattern: 'exch*', state: 'deleted', endedAt: '2026-12-06T10:00:00.000Z' });
  });

  it('shows an active waiver past its end as expired before the timer stores it so', () => {
    expect(waiverView(record({ expiresAt: NOW }), NOW).state).toBe('expired');
    expect(waiverView(record({ expiresAt: NOW + 1 }), NOW).state).toBe('active');
    expect(waiverView(record({ expiresAt: NOW - DAY, state: 'deleted' }), NOW).state).toBe('deleted');
  });
});

describe('inForceAt and overdueAt', () => {
  // Every stored state, each with an end before, at and after the instant asked about.
  const cases = (['active', 'expired', 'deleted'] as const).flatMap((state) => [NOW - 1, NOW, NOW + 1].map((expiresAt) => record({ state, expiresAt })));

  it('hold a waiver in force only while stored as active and before its end, the end itself not included', () => {
    const inForce = cases.filter((w) => inForceAt(w, NOW)).map((w) => [w.state, w.expiresAt - NOW]);
    expect(inForce).toEqual([['active', 1]]);
  });

  it('call overdue only what is stored as active and has reached its end, the ones the expiry timer still owes', () => {
    const overdue = cases.filter((w) => overdueAt(w, NOW)).map((w) => [w.state, w.expiresAt - NOW]);
    expect(overdue).toEqual([
      ['active', -1],
      ['active', 0],
    ]);
  });
});
