// ServerNames over a store that answers as the Results range read does: ids in key order, those
// that begin with the prefix, at most `max`. The end-to-end behaviour is in
// test/service/server-names.test.ts; this holds the lookup against fleets shaped to trip it.
import { describe, expect, it } from 'vitest';
import { noSuchServer, ServerNames } from '../../src/app/server-names';

function namesOver(ids: readonly string[]): ServerNames {
  const sorted = [...ids].sort();
  return new ServerNames({
    serversWithPrefix: async (prefix: string, max: number) => sorted.filter((id) => id.startsWith(prefix)).slice(0, max),
    hasServer: async (id: string) => sorted.includes(id),
  });
}

describe('ServerNames.find', () => {
  it('finds the FQDN of a host name even when more than twenty ids sort between them (exch1-a… before exch1.)', async () => {
    const crowd = Array.from({ length: 30 }, (_, i) => `exch1-${String(i).padStart(2, '0')}.corp.contoso.com`);
    const names = namesOver([...crowd, 'exch1.corp.contoso.com', 'exch10.corp.contoso.com']);
    expect(await names.find('exch1')).toEqual({ id: 'exch1.corp.contoso.com' });
    expect(await names.resolve('exch1-07')).toBe('exch1-07.corp.contoso.com');
  });

  it('takes an exact id first, even when it is also the start of other ids', async () => {
    const names = namesOver(['exch1', 'exch1.corp.contoso.com', 'exch1.lab.contoso.com']);
    expect(await names.find('exch1')).toEqual({ id: 'exch1' });
  });

  it('answers the candidates when none or several fit, and the refusal names them', async () => {
    const names = namesOver(['mbx1.corp.contoso.com', 'mbx1.lab.contoso.com', 'mbx10.corp.contoso.com']);
    expect(await names.find('mbx1')).toEqual({ candidates: ['mbx1.corp.contoso.com', 'mbx1.lab.contoso.com'] });
    expect(await names.find('mbx2')).toEqual({ candidates: [] });
    await expect(names.resolve('mbx1', 'invalid_waiver')).rejects.toMatchObject({ code: 'invalid_waiver', status: 400, message: 'No server "mbx1" is known; did you mean mbx1.corp.contoso.com or mbx1.lab.contoso.com? Use the server id (its FQDN).' });
  });
});

describe('noSuchServer', () => {
  it('says no server has the name when there are no candidates', () => {
    const e = noSuchServer('mbx9', []);
    expect(e).toMatchObject({ code: 'not_found', status: 404 });
    expect(e.message).toBe('No server "mbx9" is known: no server has that id (its FQDN, lower case) or a host name that begins one.');
  });

  it('names one candidate, two joined by "or", more as a list ending in "or"', () => {
    expect(noSuchServer('a', ['a.x']).message).toBe('No server "a" is known; did you mean a.x? Use the server id (its FQDN).');
    expect(noSuchServer('a', ['a.x', 'a.y']).message).toContain('did you mean a.x or a.y?');
    expect(noSuchServer('a', ['a.x', 'a.y', 'a.z']).message).toContain('did you mean a.x, a.y or a.z?');
    expect(noSuchServer('a', ['a.w', 'a.x', 'a.y', 'a.z'], 'invalid_waiver')).toMatchObject({ code: 'invalid_waiver', message: expect.stringContaining('did you mean a.w, a.x, a.y or a.z?') });
  });
});

describe('ServerNames over several sources (Results, ServerKeys, removal markers)', () => {
  const source = (ids: readonly string[]) => ({
    serversWithPrefix: async (prefix: string, max: number) => [...ids].sort().filter((id) => id.startsWith(prefix)).slice(0, max),
    hasServer: async (id: string) => ids.includes(id),
  });

  it('finds an id that only one source has', async () => {
    const names = new ServerNames(source(['exch1.corp.contoso.com']), source(['mbx1.corp.contoso.com']));
    expect(await names.isId('mbx1.corp.contoso.com')).toBe(true);
    expect(await names.isId('exch1.corp.contoso.com')).toBe(true);
    expect(await names.isId('mbx1')).toBe(false);
    expect(await names.resolve('mbx1')).toBe('mbx1.corp.contoso.com');
  });

  it('merges the candidates of all sources once each, sorted, at most twenty', async () => {
    const a = Array.from({ length: 15 }, (_, i) => `mbx.s${String(i).padStart(2, '0')}.contoso.com`);
    const b = Array.from({ length: 15 }, (_, i) => `mbx.s${String(i + 10).padStart(2, '0')}.contoso.com`);
    const names = new ServerNames(source(b), source(a));
    const all = [...new Set([...a, ...b])].sort();
    expect(await names.find('mbx')).toEqual({ candidates: all.slice(0, 20) });
    // One host in both sources is one server, not two candidates.
    expect(await new ServerNames(source(['web1.lab.contoso.com']), source(['web1.lab.contoso.com'])).find('web1')).toEqual({ id: 'web1.lab.contoso.com' });
  });

  it('refuses a name that fits no one server with a 404 unless told otherwise', async () => {
    const names = new ServerNames(source(['mbx1.corp.contoso.com', 'mbx1.lab.contoso.com']));
    await expect(names.resolve('mbx1')).rejects.toMatchObject({ code: 'not_found', status: 404 });
    await expect(names.resolve('nope')).rejects.toMatchObject({ code: 'not_found', message: expect.stringContaining('no server has that id') });
  });
});

describe('ServerNames.resolveOrSelf', () => {
  const names = namesOver(['mbx1.corp.contoso.com', 'mbx1.lab.contoso.com', 'exch1.corp.contoso.com']);

  it('answers the id a name stands for, and a name no server answers to as itself (a key issued before enrolment)', async () => {
    expect(await names.resolveOrSelf('exch1')).toBe('exch1.corp.contoso.com');
    expect(await names.resolveOrSelf('exch1.corp.contoso.com')).toBe('exch1.corp.contoso.com');
    expect(await names.resolveOrSelf('new1.corp.contoso.com')).toBe('new1.corp.contoso.com');
  });

  it('refuses a name several servers begin with, naming them', async () => {
    await expect(names.resolveOrSelf('mbx1')).rejects.toMatchObject({ code: 'not_found', message: expect.stringContaining('did you mean mbx1.corp.contoso.com or mbx1.lab.contoso.com?') });
  });
});

describe('ServerNames.matching', () => {
  it('answers the ids a pattern matches among those that begin with its text before the first wildcard, sorted', async () => {
    const reads: string[] = [];
    const ids = ['exch1.corp.contoso.com', 'exch2.corp.contoso.com', 'exch2.lab.contoso.com', 'mbx1.corp.contoso.com'];
    const names = new ServerNames({
      serversWithPrefix: async (prefix: string, max: number) => {
        reads.push(prefix);
        return ids.filter((id) => id.startsWith(prefix)).reverse().slice(0, max);
      },
      hasServer: async () => false,
    });
    expect(await names.matching('exch?.corp.*', 10)).toEqual({ servers: ['exch1.corp.contoso.com', 'exch2.corp.contoso.com'], atLeast: false });
    expect(reads).toEqual(['exch']);
    expect(await names.matching('*.lab.contoso.com', 10)).toEqual({ servers: ['exch2.lab.contoso.com'], atLeast: false });
    expect(reads.at(-1)).toBe('');
    // No wildcard: the whole pattern is the prefix, and only the id itself matches.
    expect(await names.matching('exch2.corp.contoso.com', 10)).toEqual({ servers: ['exch2.corp.contoso.com'], atLeast: false });
    expect(reads.at(-1)).toBe('exch2.corp.contoso.com');
  });

  it('says more may match when a source read as many servers as asked for', async () => {
    const names = namesOver(['a1.x', 'a2.x', 'a3.x']);
    expect(await names.matching('a*', 3)).toEqual({ servers: ['a1.x', 'a2.x', 'a3.x'], atLeast: true });
    expect(await names.matching('a*', 4)).toEqual({ servers: ['a1.x', 'a2.x', 'a3.x'], atLeast: false });
    expect(await names.matching('a*', 2)).toEqual({ servers: ['a1.x', 'a2.x'], atLeast: true });
    expect(await new ServerNames(namesOverSource(['a1.x']), namesOverSource(['a1.x', 'a2.x'])).matching('a*', 2)).toEqual({ servers: ['a1.x', 'a2.x'], atLeast: true });
  });
});

function namesOverSource(ids: readonly string[]) {
  return { serversWithPrefix: async (prefix: string, max: number) => ids.filter((id) => id.startsWith(prefix)).slice(0, max), hasServer: async (id: string) => ids.includes(id) };
}
