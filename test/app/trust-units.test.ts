// Trust, without storage: the shared-ingest-key migration switch, the server-key format, and
// the token bucket.
import { describe, expect, it } from 'vitest';
import { KeyRing, type HeaderSource } from '../../src/app/auth';
import { Authorizer, formatServerKey, parseServerKey, type Enrolment } from '../../src/app/enrolment';
import { ApiError } from '../../src/app/errors';
import { RateLimiter } from '../../src/app/rate-limit';
import fc from 'fast-check';

const keys = new KeyRing({ ingestKeys: ['shared'], readerKeys: ['reader'], adminKeys: ['admin'], enrolmentSecrets: ['enrol'] });
const headers = (key: string): HeaderSource => ({ get: (n) => (n === 'x-api-key' ? key : null) });
const noEnrolment = { verify: () => Promise.reject(new Error('not a server key')) } as unknown as Enrolment;
const authorizer = (allowSharedIngestKeys: boolean) =>
  new Authorizer({ keys, enrolment: noEnrolment, limiter: new RateLimiter({ burst: 100, perMinute: 100 }), refusals: new RateLimiter({ burst: 100, perMinute: 100 }), allowSharedIngestKeys });

describe('shared ingest keys: a migration path, off by default', () => {
  it('off: a shared ingest key cannot post (403) but still reads the manifest', async () => {
    await expect(authorizer(false).authorize(headers('shared'), 'ingest')).rejects.toMatchObject({ status: 403, code: 'forbidden' });
    await expect(authorizer(false).authorize(headers('shared'), 'collector')).resolves.toEqual({ kind: 'ingest' });
  });
  it('on: a shared ingest key posts (for any host: no server binding)', async () => {
    await expect(authorizer(true).authorize(headers('shared'), 'ingest')).resolves.toEqual({ kind: 'ingest' });
  });
  it('the enrolment secret only enrols', async () => {
    const a = authorizer(true);
    await expect(a.authorize(headers('enrol'), 'enrol')).resolves.toEqual({ kind: 'enrolment' });
    for (const access of ['ingest', 'read', 'collector', 'admin'] as const) await expect(a.authorize(headers('enrol'), access)).rejects.toMatchObject({ status: 403 });
    for (const k of ['shared', 'reader', 'admin']) await expect(a.authorize(headers(k), 'enrol')).rejects.toMatchObject({ status: 403 });
  });
});

describe('refused server keys', () => {
  it('spend buckets of their own: made-up key ids do not push a posting server\'s bucket out', async () => {
    const refusing = { verify: () => Promise.reject(new ApiError('key_revoked', 'Refused.')) } as unknown as Enrolment;
    const accepting = { verify: (k: { server: string }) => Promise.resolve(k.server) } as unknown as Enrolment;
    const limiter = new RateLimiter({ burst: 1, perMinute: 0.001, maxKeys: 2 });
    const refusals = new RateLimiter({ burst: 1, perMinute: 0.001, maxKeys: 2 });
    const key = (keyId: string) => headers(formatServerKey({ server: 'exch01.corp.contoso.com', keyId, secret: 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cwA' }));
    const posting = new Authorizer({ keys, enrolment: accepting, limiter, refusals, allowSharedIngestKeys: false });
    await expect(posting.authorize(key('AAAAAAAAAAAAAAAA'), 'ingest')).resolves.toMatchObject({ kind: 'server' });
    await expect(posting.authorize(key('AAAAAAAAAAAAAAAA'), 'ingest')).rejects.toMatchObject({ status: 429 });
    const refused = new Authorizer({ keys, enrolment: refusing, limiter, refusals, allowSharedIngestKeys: false });
    for (let i = 0; i < 10; i++) await expect(refused.authorize(key(`B${String(i).padStart(15, '0')}`), 'ingest')).rejects.toMatchObject({ status: 401 });
    // Still spent: the refusals went to their own buckets.
    await expect(posting.authorize(key('AAAAAAAAAAAAAAAA'), 'ingest')).rejects.toMatchObject({ status: 429 });
    // A refused key id is refused again only at its bucket's rate.
    await expect(refused.authorize(key('B000000000000009'), 'ingest')).rejects.toMatchObject({ status: 429 });
  });
});

/** A server id as SERVER_ID takes it: dot-separated labels of the snapshot's host-name rules. */
const serverId = fc
  .array(fc.stringMatching(/^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/), { minLength: 1, maxLength: 4 })
  .map((labels) => labels.join('.'))
  .filter((id) => id.length <= 253);

describe('server key format', () => {
  it('round-trips every server id and rejects anything else without throwing', () => {
    fc.assert(
      fc.property(serverId, (server) => {
        const k = { server, keyId: 'A'.repeat(16), secret: 'b'.repeat(43) };
        expect(parseServerKey(formatServerKey(k))).toEqual(k);
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 700 }), (s) => {
        const p = parseServerKey('fp1.' + s);
        if (p) expect(formatServerKey(p)).toBe('fp1.' + s);
      }),
      { numRuns: 300 },
    );
  });
});

describe('token bucket', () => {
  it('allows the burst, then one per refill interval, with an honest Retry-After', () => {
    let now = 0;
    const rl = new RateLimiter({ burst: 3, perMinute: 6, clock: () => now });
    expect([rl.take('a'), rl.take('a'), rl.take('a')].every((d) => d.ok)).toBe(true);
    const denied = rl.take('a');
    expect(denied).toEqual({ ok: false, retryAfterSeconds: 10 });
    expect(rl.take('b').ok).toBe(true);
    now += 10_000;
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('a').ok).toBe(false);
  });
  it('keeps memory bounded', () => {
    const rl = new RateLimiter({ burst: 1, perMinute: 1, maxKeys: 100 });
    for (let i = 0; i < 1000; i++) rl.take(`k${i}`);
    // The most recent key is still limited; the oldest were forgotten (they restart full).
    expect(rl.take('k999').ok).toBe(false);
    expect(rl.take('k0').ok).toBe(true);
  });
});
