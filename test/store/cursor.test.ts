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

  it('opens the start of a query without a token', async () => {
    const codec = codecOf();
    expect(await codec.open(undefined, Q)).toEqual({ i: 0 });
  });

  it('opens a token to the position it was sealed with', async () => {
    const codec = codecOf();
    expect(await codec.open(await codec.seal(Q, { i: 3, t: 'sdk-token' }), Q)).toEqual({ i: 3, t: 'sdk-token' });
    const noT = await codec.open(await codec.seal(Q, { i: 2 }), Q);
    expect(noT).toEqual({ i: 2, t: undefined });
    expect(noT.t).toBeUndefined();
  });

  it('seals the position as JSON after a 32-byte HMAC-SHA256 of the query under the secret', async () => {
    const codec = codecOf();
    const token = await codec.seal(Q, { i: 1, t: 'x' });
    expect(token).toBe(forged('s3cret', Q, '{"i":1,"t":"x"}'));
    expect(await codec.seal(Q, { i: 4 })).toBe(forged('s3cret', Q, '{"i":4}'));
    expect(Buffer.from(token, 'base64url').subarray(32).toString('utf8')).toBe('{"i":1,"t":"x"}');
  });

  it('opens tokens across instances that share the secret, and no others', async () => {
    const codec = codecOf();
    const token = await codec.seal(Q, { i: 1, t: 'x' });
    expect(await new CursorCodec('s3cret').open(token, Q)).toEqual({ i: 1, t: 'x' });
    await expect(new CursorCodec('other').open(token, Q)).rejects.toThrow(InvalidContinuationTokenError);
    // Without a secret each instance has a random key of its own.
    const a = new CursorCodec();
    const b = new CursorCodec(undefined);
    expect(await a.open(await a.seal(Q, { i: 1 }), Q)).toEqual({ i: 1, t: undefined });
    await expect(b.open(await a.seal(Q, { i: 1 }), Q)).rejects.toThrow(InvalidContinuationTokenError);
    await expect(new CursorCodec('').open(await new CursorCodec('').seal(Q, { i: 1 }), Q)).rejects.toThrow(InvalidContinuationTokenError);
  });

  it('refuses a token of another query', async () => {
    const codec = codecOf();
    const token = await codec.seal(Q, { i: 1 });
    await expect(codec.open(token, queryId('results', { status: 'Error' }))).rejects.toThrow(refused().message);
  });

  it('refuses a token altered anywhere, cut short, lengthened or not base64url', async () => {
    const codec = codecOf();
    const token = await codec.seal(Q, { i: 1, t: 'x' });
    const raw = Buffer.from(token, 'base64url');
    for (const at of [0, 31, 32, raw.length - 1]) {
      const bad = Buffer.from(raw);
      bad[at]! ^= 1;
      await expect(codec.open(bad.toString('base64url'), Q)).rejects.toThrow(InvalidContinuationTokenError);
    }
    for (const bad of [raw.subarray(0, 32).toString('base64url'), raw.subarray(0, 33).toString('base64url'), '', token + 'A', token.replace(/^./, '+'), `${token}=`]) {
      await expect(codec.open(bad, Q), bad).rejects.toThrow(InvalidContinuationTokenError);
    }
  });

  it('opens a token whose position is a single byte (the shortest a token can be)', async () => {
    const codec = codecOf();
    expect(await codec.open(forged('s3cret', Q, '{"i":0}'), Q)).toEqual({ i: 0, t: undefined });
    // Sealed under the secret yet holding one byte of payload: refused as not JSON, not thrown as a SyntaxError.
    await expect(codec.open(forged('s3cret', Q, '1'), Q)).rejects.toThrow(InvalidContinuationTokenError);
  });

  it.each(['not json', 'null', '1', '"s"', '{}', '{"i":"1"}', '{"i":1.5}', '{"i":-1}', '{"i":1,"t":2}', '{"i":1,"t":null}'])(
    'refuses a correctly sealed payload that is no position: %s (a leaked secret cannot crash a query)',
    async (payload) => {
      await expect(codecOf().open(forged('s3cret', Q, payload), Q)).rejects.toThrow(InvalidContinuationTokenError);
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
  /** A codec whose secret comes from `answers` in turn, counting the fetches. */
  function fetching(...answers: (() => Promise<string>)[]) {
    const counted = { calls: 0 };
    const codec = new CursorCodec(() => answers[counted.calls++]!());
    return Object.assign(counted, { codec });
  }
  const fetched = async () => 's3cret-fetched';

  it('seals and opens exactly as a codec given that secret', async () => {
    const { codec } = fetching(fetched);
    const token = await codec.seal(Q, { i: 2, t: 'x' });
    expect(token).toBe(forged('s3cret-fetched', Q, '{"i":2,"t":"x"}'));
    expect(await new CursorCodec('s3cret-fetched').open(token, Q)).toEqual({ i: 2, t: 'x' });
    expect(await codec.open(await new CursorCodec('s3cret-fetched').seal(Q, { i: 5 }), Q)).toEqual({ i: 5, t: undefined });
    await expect(codec.open(await new CursorCodec('other').seal(Q, { i: 5 }), Q)).rejects.toThrow(InvalidContinuationTokenError);
  });

  it('fetches nothing for the start of a query or a token that cannot be one', async () => {
    const f = fetching(fetched);
    expect(await f.codec.open(undefined, Q)).toEqual({ i: 0 });
    for (const bad of ['', 'a+b', Buffer.alloc(32).toString('base64url')]) await expect(f.codec.open(bad, Q)).rejects.toThrow(InvalidContinuationTokenError);
    expect(f.calls).toBe(0);
  });

  it('fetches the secret once for tokens sealed and opened together and after', async () => {
    const f = fetching(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return 's3cret-fetched';
    });
    const token = forged('s3cret-fetched', Q, '{"i":1}');
    await Promise.all([f.codec.seal(Q, { i: 1 }), f.codec.open(token, Q), f.codec.seal(Q, { i: 2 })]);
    expect(await f.codec.open(token, Q)).toEqual({ i: 1, t: undefined });
    expect(f.calls).toBe(1);
  });

  it('a failed fetch fails the tokens waiting on it, and the next token fetches again', async () => {
    const f = fetching(async () => Promise.reject(new Error('storage down')), fetched);
    await expect(Promise.all([f.codec.seal(Q, { i: 1 }), f.codec.open(forged('s3cret-fetched', Q, '{"i":1}'), Q)])).rejects.toThrow('storage down');
    expect(f.calls).toBe(1);
    expect(await f.codec.seal(Q, { i: 1 })).toBe(forged('s3cret-fetched', Q, '{"i":1}'));
    expect(f.calls).toBe(2);
  });
});
