// The configured keys, without HTTP: which header a key is taken from, which kinds a key is, what
// each kind may do, and the answer (status, sentence, challenge header) for a missing, unknown or
// wrong-kind key. The service tests check the same through every route.
import { describe, expect, it } from 'vitest';
import { KEY_HEADERS, KeyRing, presentedKey, type Access, type CredentialKind, type HeaderSource } from '../../src/app/auth';
import { ApiError } from '../../src/app/errors';

const from = (values: Partial<Record<(typeof KEY_HEADERS)[number], string>>): HeaderSource => ({
  get: (name) => values[name as keyof typeof values] ?? null,
});

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('presentedKey', () => {
  it('takes x-api-key first, then Authorization: Bearer, then x-functions-key, each trimmed', () => {
    expect(KEY_HEADERS).toEqual(['x-api-key', 'authorization', 'x-functions-key']);
    expect(presentedKey(from({ 'x-api-key': ' a ', authorization: 'Bearer b', 'x-functions-key': 'c' }))).toBe('a');
    expect(presentedKey(from({ authorization: '  Bearer b  ', 'x-functions-key': 'c' }))).toBe('b');
    expect(presentedKey(from({ 'x-functions-key': ' c ' }))).toBe('c');
  });

  it('reads the Bearer scheme in any case and with any white space before the token', () => {
    for (const header of ['Bearer tok', 'bearer tok', 'BEARER\ttok', 'Bearer    tok']) expect(presentedKey(from({ authorization: header })), header).toBe('tok');
  });

  it('passes over blank headers to the next one', () => {
    expect(presentedKey(from({ 'x-api-key': '   ', authorization: 'Bearer b' }))).toBe('b');
    expect(presentedKey(from({ 'x-api-key': '', authorization: '  ', 'x-functions-key': 'c' }))).toBe('c');
    expect(presentedKey(from({ 'x-functions-key': '   ' }))).toBeUndefined();
    expect(presentedKey(from({}))).toBeUndefined();
  });

  it('takes no key from an Authorization header that is not one Bearer token, and does not fall through to x-functions-key', () => {
    for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer two tokens', 'Bearertok', 'tok', 'xBearer tok']) {
      expect(presentedKey(from({ authorization: header, 'x-functions-key': 'c' })), header).toBeUndefined();
    }
  });
});

describe('KeyRing', () => {
  const ring = new KeyRing({ ingestKeys: ['ing1', 'ing2'], readerKeys: ['read'], adminKeys: ['adm'], enrolmentSecrets: ['enrol'] });
  const by = (key: string) => from({ 'x-api-key': key });

  it('knows each configured key by its kind, every key of a list (rotation), and nothing else', () => {
    expect([...ring.kindsOf('ing1')]).toEqual(['ingest']);
    expect([...ring.kindsOf('ing2')]).toEqual(['ingest']);
    expect([...ring.kindsOf('read')]).toEqual(['reader']);
    expect([...ring.kindsOf('adm')]).toEqual(['admin']);
    expect([...ring.kindsOf('enrol')]).toEqual(['enrolment']);
    for (const other of ['', 'ing', 'ing12', 'READ', 'read ', 'adm\n']) expect(ring.kindsOf(other).size, JSON.stringify(other)).toBe(0);
  });

  it('gives a key listed under two kinds both', () => {
    const both = new KeyRing({ ingestKeys: [], readerKeys: ['same'], adminKeys: ['same'], enrolmentSecrets: [] });
    expect([...both.kindsOf('same')].sort()).toEqual(['admin', 'reader']);
    // Reading prefers the reader kind, listed first; only the admin kind may administer.
    expect(both.authorize(by('same'), 'read')).toBe('reader');
    expect(both.authorize(by('same'), 'admin')).toBe('admin');
    // Refused, the answer names both kinds.
    const mixed = new KeyRing({ ingestKeys: ['twice'], readerKeys: [], adminKeys: [], enrolmentSecrets: ['twice'] });
    expect(refusal(() => mixed.authorize(by('twice'), 'admin')).message).toBe('This key is a shared ingest key and the enrolment secret and cannot use admin functions.');
  });

  it('knows no enrolment secret when none is configured', () => {
    const none = new KeyRing({ ingestKeys: [], readerKeys: [], adminKeys: ['adm'], enrolmentSecrets: [] });
    expect(none.kindsOf('enrol').size).toBe(0);
  });

  // What each kind of key may do: the whole matrix.
  const MAY: Readonly<Record<CredentialKind, readonly Access[]>> = {
    ingest: ['ingest', 'collector'],
    reader: ['read', 'collector'],
    admin: ['read', 'collector', 'admin'],
    enrolment: ['enrol'],
  };
  const KEY_OF: Readonly<Record<CredentialKind, string>> = { ingest: 'ing1', reader: 'read', admin: 'adm', enrolment: 'enrol' };
  const NAMED: Readonly<Record<CredentialKind, string>> = { ingest: 'a shared ingest key', reader: 'a reader key', admin: 'an admin key', enrolment: 'the enrolment secret' };
  const ACCESS: readonly Access[] = ['ingest', 'read', 'collector', 'admin', 'enrol'];
  const CANNOT: Readonly<Record<Access, string>> = {
    ingest: 'post snapshots',
    read: 'read fleet data',
    collector: 'read fleet data',
    admin: 'use admin functions',
    enrol: 'enrol servers',
  };

  it('lets each kind do what it may, and refuses the rest with 403 naming the kind and what it cannot do', () => {
    for (const kind of Object.keys(MAY) as CredentialKind[]) {
      for (const access of ACCESS) {
        const label = `${kind} → ${access}`;
        if (MAY[kind].includes(access)) {
          expect(ring.authorize(by(KEY_OF[kind]), access), label).toBe(kind);
        } else {
          const e = refusal(() => ring.authorize(by(KEY_OF[kind]), access));
          expect([e.status, e.code, e.message, e.headers], label).toEqual([403, 'forbidden', `This key is ${NAMED[kind]} and cannot ${CANNOT[access]}.`, {}]);
        }
      }
    }
  });

  it('answers 401 with a Bearer challenge for no key, and with invalid_token for an unknown one', () => {
    const missing = refusal(() => ring.authorize(from({}), 'read'));
    expect([missing.status, missing.code, missing.message, missing.headers]).toEqual([
      401,
      'unauthorized',
      'A key is required: send it in the x-api-key header (or Authorization: Bearer, or x-functions-key).',
      { 'WWW-Authenticate': 'Bearer realm="fleet-posture"' },
    ]);
    const unknown = refusal(() => ring.authorize(by('guess'), 'read'));
    expect([unknown.status, unknown.code, unknown.message, unknown.headers]).toEqual([
      401,
      'unauthorized',
      'The key is not valid.',
      { 'WWW-Authenticate': 'Bearer realm="fleet-posture", error="invalid_token"' },
    ]);
  });

  it('never names the key it refuses', () => {
    const e = refusal(() => ring.authorize(by('secret-looking-guess'), 'admin'));
    expect(e.message).not.toContain('secret-looking-guess');
    const zebra = new KeyRing({ ingestKeys: [], readerKeys: ['zebra-reader-key'], adminKeys: [], enrolmentSecrets: [] });
    const wrongKind = refusal(() => zebra.authorize(by('zebra-reader-key'), 'admin'));
    expect(wrongKind.message).toBe('This key is a reader key and cannot use admin functions.');
  });
});
