// The collector takes an answer for the service's own only when its "error" is one of the codes
// the service answers with, at that code's status (collector/Private/ServiceCodes.ps1): a proxy's
// {"error":"invalid_token"} must not end an enrolment or drop a key. That list is PowerShell text
// about the TypeScript service's codes, so it is held equal to them here: the contract's
// (API_ERROR_STATUS) and the local host's own answers (src/local/host.ts).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_ERROR_STATUS } from '../../src/app/errors';

const read = (file: string) => readFileSync(path.join(__dirname, '../..', file), 'utf8');

/** The collector's list: each `'code' = status` line of Get-PostureServiceErrorTable. */
function collectorCodes(): Map<string, number> {
  const text = read('collector/Private/ServiceCodes.ps1');
  const codes = new Map<string, number>();
  for (const m of text.matchAll(/^\s*'([a-z_]+)'\s*=\s*(\d{3})\s*$/gm)) {
    expect(codes.has(m[1]!), `${m[1]} listed twice`).toBe(false);
    codes.set(m[1]!, Number(m[2]));
  }
  return codes;
}

/** The local host's own answers: every `error: '<code>'` it sends, with its status where the call names it. */
function localHostCodes(): { codes: Set<string>; statuses: Map<string, number> } {
  const text = read('src/local/host.ts');
  const codes = new Set([...text.matchAll(/\berror:\s*'([a-z_]+)'/g)].map((m) => m[1]!));
  const statuses = new Map<string, number>();
  for (const m of text.matchAll(/answer\(\s*req,\s*res,\s*(\d{3}),\s*\{\s*error:\s*'([a-z_]+)'/g)) statuses.set(m[2]!, Number(m[1]));
  // A connection the host refuses itself: each entry of its table of refusals gives the status line, then the code.
  const refusals = [...text.matchAll(/status:\s*'(\d{3}) [^']*',\s*error:\s*'([a-z_]+)'/g)];
  expect(refusals.map((m) => m[2])).toEqual(['request_timeout', 'invalid_request', 'headers_too_large']);
  for (const m of refusals) statuses.set(m[2]!, Number(m[1]));
  return { codes, statuses };
}

describe('the collector\'s list of the service\'s error codes', () => {
  it('holds every code of the contract, at its status', () => {
    const listed = collectorCodes();
    for (const [code, status] of Object.entries(API_ERROR_STATUS)) expect([code, listed.get(code)]).toEqual([code, status]);
  });

  it('holds every code the local host answers with itself, at its status', () => {
    const listed = collectorCodes();
    const host = localHostCodes();
    expect(host.codes.size).toBeGreaterThan(0);
    for (const code of host.codes) {
      expect(listed.has(code), `${code} (src/local/host.ts) is not in ServiceCodes.ps1`).toBe(true);
      const status = host.statuses.get(code) ?? (API_ERROR_STATUS as Readonly<Record<string, number>>)[code];
      expect(status, `no status found for ${code}`).toBeDefined();
      expect([code, listed.get(code)]).toEqual([code, status]);
    }
  });

  it('holds nothing else: a code the service no longer answers with would let another server\'s answer pass for its own', () => {
    const known = new Set([...Object.keys(API_ERROR_STATUS), ...localHostCodes().codes]);
    expect([...collectorCodes().keys()].filter((code) => !known.has(code))).toEqual([]);
  });
});
