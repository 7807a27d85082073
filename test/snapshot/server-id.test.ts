// A server id (SERVER_ID) is exactly what a snapshot's host can become: every host the contract
// takes keys as an id the pattern accepts, and names the contract refuses are refused as ids, so
// no key, waiver or baseline can be made for a server no collector could post as.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asciiLower, SERVER_ID, serverIdOf, serverIdOfName } from '../../src/snapshot/normalise';
import { hostSchema } from '../../src/snapshot/schema';

describe('SERVER_ID', () => {
  it('accepts the id of every host the contract takes', () => {
    const label = fc.stringMatching(/^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/);
    fc.assert(
      fc.property(label, fc.option(fc.domain(), { nil: undefined }), fc.boolean(), (name, fqdn, dot) => {
        const host = { name, ...(fqdn === undefined ? {} : { fqdn: dot ? `${fqdn}.` : fqdn }) };
        fc.pre(hostSchema.safeParse(host).success);
        expect(SERVER_ID.test(serverIdOf(host))).toBe(true);
      }),
    );
  });

  it('refuses what no host can be: empty labels, hyphens at a label edge, labels over 63, over 253 in all, capitals', () => {
    for (const ok of ['exch01', 'exch01.corp.contoso.com', '_msdcs.corp', 'a', 'l'.repeat(63), `${'l'.repeat(63)}.${'m'.repeat(63)}.${'n'.repeat(63)}.${'o'.repeat(61)}`]) {
      expect(SERVER_ID.test(ok), ok).toBe(true);
    }
    for (const bad of ['', 'a..b', 'a-.b', 'a.-b', '-a', 'a-', '.a', 'a.', 'l'.repeat(64), `${'l'.repeat(63)}.${'m'.repeat(63)}.${'n'.repeat(63)}.${'o'.repeat(62)}`, 'Exch01', 'a b', 'a/b']) {
      expect(SERVER_ID.test(bad), bad).toBe(false);
    }
  });
});

describe('a server id as a person types it', () => {
  it('is the name in lower case without a final dot, or nothing when no host can have it', () => {
    expect(serverIdOfName('EXCH01')).toBe('exch01');
    expect(serverIdOfName('Exch01.Corp.Contoso.COM.')).toBe('exch01.corp.contoso.com');
    for (const bad of ['', '.', 'a b', 'exch01..corp', 'exch01.corp..']) expect(serverIdOfName(bad), bad).toBeUndefined();
  });

  it('folds ASCII letters only: the Kelvin sign is no k', () => {
    expect(asciiLower('EXCH-\u212A01-Ä')).toBe('exch-\u212A01-Ä');
    expect(serverIdOfName('\u212Aexch01')).toBeUndefined();
    expect(serverIdOfName('Kexch01')).toBe('kexch01');
  });
});
