// ServerNames over a store that answers as the Results range read does: ids in key order, those
// that begin with the prefix, at most `max`. The end-to-end behaviour is in
// test/service/server-names.test.ts; this holds the lookup against fleets shaped to trip it.
import { describe, expect, it } from 'vitest';
import { ServerNames } from '../../src/app/server-names';

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
