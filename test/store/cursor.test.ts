// Continuation tokens, without storage: a token opens to the position it was sealed with, for the
// query it was sealed for, under the secret it was sealed with; anything else is refused before a
// table is asked.
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CursorCodec, InvalidContinuationTokenError, queryId, refused } from '../../src/store/cursor';

const Q = queryId('results', { status: 'Warning' });

/** A token sealed as the service seals one under `secret`, with any payload bytes. */
function forged(secret: string, query: string, payload: string): string {
  const key = createHash('sha256').update(`fleet-posture continuation token\n${secret}`, 'utf8').digest();
  const body = Buffer.from(payload, 'utf8');
  const mac = createHmac('sha256', key).update(query, 'utf8').update('\n').update(body).digest();
  return Buffer.concat([mac, body]).toString('base64url');
}

describe('queryId', () => {
  it('is the kind and the filters, so tokens of one query do not open another', () => {
    expect(queryId('results', { status: 'Warning', rule: 'r' })).toBe('results:{"status":"Warning","rule":"r"}');
    expect(queryId('events', {})).toBe('events:{}');
  });
});

describe('CursorCodec', () => {
  // A getter, not one codec: each test builds its own, so the constructor runs inside the test.
  const codecOf = () => new CursorCodec('s3cret');

  it('opens the start of a query without a token', () => {
    const codec = codecOf();
    expect(codec.open(undefined, Q)).toEqual({ i: 0 });
  });

  it('opens a token to the position it was sealed with', () => {
    const codec = codecOf();
    expect(codec.open(codec.seal(Q, { i: 3, t: 'sdk-token' }), Q)).toEqual({ i: 3, t: 'sdk-token' });
    const noT = codec.open(codec.seal(Q, { i: 2 }), Q);
    expect(noT).toEqual({ i: 2, t: undefined });
    expect(noT.t).toBeUndefined();
  });

  it('seals the position as JSON after a 32-byte HMAC-SHA256 of the query under the secret', () => {
    const codec = codecOf();
    const token = codec.seal(Q, { i: 1, t: 'x' });
    expect(token).toBe(forged('s3cret', Q, '{"i":1,"t":"x"}'));
    expect(codec.seal(Q, { i: 4 })).toBe(forged('s3cret', Q, '{"i":4}'));
    expect(Buffer.from(token, 'base64url').subarray(32).toString('utf8')).toBe('{"i":1,"t":"x"}');
  });

  it('opens tokens across instances that share the secret, and no others', () => {
    const codec = codecOf();
    const token = codec.seal(Q, { i: 1, t: 'x' });
    expect(new CursorCodec('s3cret').open(token, Q)).toEqual({ i: 1, t: 'x' });
    expect(() => new CursorCodec('other').open(token, Q)).toThrow(InvalidContinuationTokenError);
    // Without a secret each instance has a random key of its own.
    const a = new CursorCodec();
    const b = new CursorCodec(undefined);
    expect(a.open(a.seal(Q, { i: 1 }), Q)).toEqual({ i: 1, t: undefined });
    expect(() => b.open(a.seal(Q, { i: 1 }), Q)).toThrow(InvalidContinuationTokenError);
    expect(() => new CursorCodec('').open(new CursorCodec('').seal(Q, { i: 1 }), Q)).toThrow(InvalidContinuationTokenError);
  });

  it('refuses a token of another query', () => {
    const codec = codecOf();
    const token = codec.seal(Q, { i: 1 });
    expect(() => codec.open(token, queryId('results', { status: 'Error' }))).toThrow(refused().message);
  });

  it('refuses a token altered anywhere, cut short, lengthened or not base64url', () => {
    const codec = codecOf();
    const token = codec.seal(Q, { i: 1, t: 'x' });
    const raw = Buffer.from(token, 'base64url');
    for (const at of [0, 31, 32, raw.length - 1]) {
      const bad = Buffer.from(raw);
      bad[at]! ^= 1;
      expect(() => codec.open(bad.toString('base64url'), Q)).toThrow(InvalidContinuationTokenError);
    }
    expect(() => codec.open(raw.subarray(0, 32).toString('base64url'), Q)).toThrow(InvalidContinuationTokenError);
    expect(() => codec.open(raw.subarray(0, 33).toString('base64url'), Q)).toThrow(InvalidContinuationTokenError);
    expect(() => codec.open('', Q)).toThrow(InvalidContinuationTokenError);
    expect(() => codec.open(token + 'A', Q)).toThrow(InvalidContinuationTokenError);
    expect(() => codec.open(token.replace(/^./, '+'), Q)).toThrow(InvalidContinuationTokenError);
    expect(() => codec.open(`${token}=`, Q)).toThrow(InvalidContinuationTokenError);
  });

  it('opens a token whose position is a single byte (the shortest a token can be)', () => {
    const codec = codecOf();
    expect(codec.open(forged('s3cret', Q, '{"i":0}'), Q)).toEqual({ i: 0, t: undefined });
    // Sealed under the secret yet holding one byte of payload: refused as not JSON, not thrown as a SyntaxError.
    expect(() => codec.open(forged('s3cret', Q, '1'), Q)).toThrow(InvalidContinuationTokenError);
  });

  it.each(['not json', 'null', '1', '"s"', '{}', '{"i":"1"}', '{"i":1.5}', '{"i":-1}', '{"i":1,"t":2}', '{"i":1,"t":null}'])(
    'refuses a correctly sealed payload that is no position: %s (a leaked secret cannot crash a query)',
    (payload) => {
      expect(() => codecOf().open(forged('s3cret', Q, payload), Q)).toThrow(InvalidContinuationTokenError);
    },
  );

  it('refuses with a sentence saying to repeat the query without the token', () => {
    const e = refused();
    expect(e).toBeInstanceOf(InvalidContinuationTokenError);
    expect(e.name).toBe('InvalidContinuationTokenError');
    expect(e.message).toBe('The continuation token is not one this service issued for this query; repeat the query without it.');
  });
});

describe('CursorCodec with a secret fetched once (the one the instances share)', () => {
  it('seals and opens, once ready, exactly as a codec given that secret', async () => {
    const codec = new CursorCodec(async () => 's3cret-fetched');
    await codec.ready();
    const token = codec.seal(Q, { i: 2, t: 'x' });
    expect(token).toBe(forged('s3cret-fetched', Q, '{"i":2,"t":"x"}'));
    expect(new CursorCodec('s3cret-fetched').open(token, Q)).toEqual({ i: 2, t: 'x' });
    expect(codec.open(new CursorCodec('s3cret-fetched').seal(Q, { i: 5 }), Q)).toEqual({ i: 5, t: undefined });
    expect(() => codec.open(new CursorCodec('other').seal(Q, { i: 5 }), Q)).toThrow(InvalidContinuationTokenError);
  });

  it('before it is ready, opens the start of a query but seals and opens no token', () => {
    const codec = new CursorCodec(async () => 's3cret-fetched');
    expect(codec.open(undefined, Q)).toEqual({ i: 0 });
    expect(() => codec.seal(Q, { i: 1 })).toThrow(/not loaded yet/);
    expect(() => codec.open(forged('s3cret-fetched', Q, '{"i":1}'), Q)).toThrow(/not loaded yet/);
  });

  it('fetches the secret once for callers that wait together and after', async () => {
    let calls = 0;
    const codec = new CursorCodec(async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return 's3cret-fetched';
    });
    await Promise.all([codec.ready(), codec.ready(), codec.ready()]);
    await codec.ready();
    expect(calls).toBe(1);
  });

  it('a failed fetch fails the callers waiting on it, and the next call fetches again', async () => {
    const answers: (() => Promise<string>)[] = [async () => Promise.reject(new Error('storage down')), async () => 's3cret-fetched'];
    let calls = 0;
    const codec = new CursorCodec(() => answers[calls++]!());
    await expect(Promise.all([codec.ready(), codec.ready()])).rejects.toThrow('storage down');
    expect(calls).toBe(1);
    await codec.ready();
    expect(calls).toBe(2);
    expect(codec.seal(Q, { i: 1 })).toBe(forged('s3cret-fetched', Q, '{"i":1}'));
  });

  it('a codec given its secret, or none, is ready at once', async () => {
    for (const codec of [new CursorCodec('s3cret'), new CursorCodec()]) {
      await codec.ready();
      expect(codec.open(codec.seal(Q, { i: 1 }), Q)).toEqual({ i: 1, t: undefined });
    }
    expect(new CursorCodec('s3cret').seal(Q, { i: 1 })).toBe(forged('s3cret', Q, '{"i":1}'));
  });
});
