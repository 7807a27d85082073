// The conditions an admin's change of a waiver or a drift baseline carries, without HTTP: If-Match
// compared strongly against the record's revision, If-None-Match: * as "create only", and the
// sentences of the refusals. The service tests send the same headers through the routes.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/app/errors';
import { changedMeanwhile, createOnlyOf, ifMatchOf, inForceAlready, revisionEtag, staleIfMatch } from '../../src/app/preconditions';
import { apiRequest } from '../support/api-request';

const req = (headers: Record<string, string>) => apiRequest({ headers });

describe('revisionEtag', () => {
  it('is the revision, quoted', () => {
    expect(revisionEtag({ revision: 3 })).toBe('"3"');
    expect(revisionEtag({ revision: 12 })).toBe('"12"');
  });
});

describe('ifMatchOf', () => {
  it('is no condition without If-Match', () => {
    expect(ifMatchOf(req({}))).toBeUndefined();
  });

  it('lets a change go on only when the record is at one of the listed ETags', () => {
    const only3 = ifMatchOf(req({ 'if-match': '"3"' }))!;
    expect([only3('"3"'), only3('"4"'), only3('3'), only3(undefined)]).toEqual([true, false, false, false]);
    const list = ifMatchOf(req({ 'if-match': ' "1" ,"3"  ' }))!;
    expect([list('"1"'), list('"3"'), list('"2"')]).toEqual([true, true, false]);
  });

  it('takes * as any version of a record that exists, and never a record that does not', () => {
    const any = ifMatchOf(req({ 'if-match': '*' }))!;
    expect([any('"7"'), any(undefined)]).toEqual([true, false]);
  });

  it('compares strongly: a weak ETag never matches', () => {
    const weak = ifMatchOf(req({ 'if-match': 'W/"3"' }))!;
    expect(weak('"3"')).toBe(false);
  });
});

describe('createOnlyOf', () => {
  it('is false without If-None-Match and true for *, spaces around allowed', () => {
    expect(createOnlyOf(req({}))).toBe(false);
    expect(createOnlyOf(req({ 'if-none-match': '*' }))).toBe(true);
    expect(createOnlyOf(req({ 'if-none-match': '  * ' }))).toBe(true);
  });

  it('refuses anything else in one sentence, quoting what was sent, trimmed and cut to 100 characters', () => {
    const refusal = (value: string) => {
      try {
        createOnlyOf(req({ 'if-none-match': value }));
      } catch (error) {
        if (error instanceof ApiError) return [error.status, error.code, error.message];
      }
      return undefined;
    };
    expect(refusal(' "3" ')).toEqual([400, 'invalid_query', 'If-None-Match on a PUT takes only * (create, never replace), not "3".']);
    expect(refusal('"1", *')).toEqual([400, 'invalid_query', 'If-None-Match on a PUT takes only * (create, never replace), not "1", *.']);
    const long = `"${'a'.repeat(200)}"`;
    expect(refusal(long)?.[2]).toBe(`If-None-Match on a PUT takes only * (create, never replace), not ${long.slice(0, 100)}.`);
  });
});

describe('the refusals of a change', () => {
  it('answer 412, say nothing was changed and what to do, naming the record and its version', () => {
    const cases: [ApiError, string][] = [
      [staleIfMatch('Waiver w1', '"4"'), 'Waiver w1 is at "4" now, not the version in If-Match, so nothing was changed; read it again and repeat the change on what is there now.'],
      [changedMeanwhile('The baseline of r'), 'The baseline of r was changed by someone else after the version in If-Match was read, so nothing was changed; read it again and repeat the change on what is there now.'],
      [inForceAlready('Waiver w1', '"2"'), 'Waiver w1 is in force already (at "2"), and If-None-Match: * only creates, so nothing was changed; read it, and change it with If-Match if that is what you meant.'],
    ];
    for (const [error, message] of cases) expect([error.status, error.code, error.message]).toEqual([412, 'precondition_failed', message]);
  });
});
