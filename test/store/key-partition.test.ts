// One server's ServerKeys partition, without storage: enrolment requests, the refusal row and the
// head written as columns and read back (dates as the SDK returns them), states and reasons this
// version does not know kept as they are and acted on by no one, and a partition as read sorted
// into its head, the requests in force, those replaced, those unknown, and a refusal not cleared.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  entityToHead,
  entityToRefusal,
  entityToRequest,
  HEAD_ROW,
  isInForce,
  isKeyRow,
  keyPartitionOf,
  refusalClearedMark,
  refusalToEntity,
  replacedMark,
  REFUSED_ROW,
  requestToEntity,
  type EnrolmentRequest,
  type Row,
} from '../../src/store/key-partition';
import { encodeKey } from '../../src/store/keys';
import { propertyRuns } from '../support/property-runs';
import { asRead } from '../support/sdk-rows';

const RUNS = { numRuns: propertyRuns(200), seed: 20261206 } as const;
const T = Date.parse('2026-12-06T10:00:00.000Z');

const request = (over: Partial<EnrolmentRequest> = {}): EnrolmentRequest => ({
  server: 'exch01.corp.contoso.com',
  requestId: 'req1',
  claimSalt: 'c2FsdA==',
  claimHash: 'aGFzaA==',
  state: 'pending',
  requestedAt: T,
  ...over,
});

const text = fc.string({ minLength: 1, maxLength: 12 });
const requestArb: fc.Arbitrary<EnrolmentRequest> = fc
  .record({
    server: fc.stringMatching(/^[a-z][a-z0-9.-]{0,20}$/),
    requestId: fc.stringMatching(/^[A-Za-z0-9_-]{1,22}$/),
    claimSalt: text,
    claimHash: text,
    state: fc.constantFrom('pending', 'approved', 'denied', 'replaced') as fc.Arbitrary<EnrolmentRequest['state']>,
    requestedAt: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    decidedAt: fc.option(fc.integer({ min: 0, max: 4_102_444_800_000 }), { nil: undefined }),
    hostName: fc.option(text, { nil: undefined }),
    fqdn: fc.option(text, { nil: undefined }),
    collector: fc.option(text, { nil: undefined }),
    source: fc.option(text, { nil: undefined }),
    request: fc.option(fc.record({ salt: text, hash: text }), { nil: undefined }),
    replaced: fc.record({ by: text, reason: fc.constantFrom('repeat', 'limit', 'key', 'revoked') as fc.Arbitrary<'repeat' | 'limit' | 'key' | 'revoked'> }),
  })
  .map(({ request: secret, replaced, ...r }) => ({
    ...r,
    ...(secret ? { requestSalt: secret.salt, requestHash: secret.hash } : {}),
    // Only a replaced request says by what.
    ...(r.state === 'replaced' ? { replaced } : {}),
  }));

/** What reading gives back for what was written: the fields set, undefined ones as absent, and the ETag. */
const strip = (r: EnrolmentRequest) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));

describe('enrolment requests as columns', () => {
  it('read back as written, in every known state, with the row ETag', () => {
    fc.assert(
      fc.property(requestArb, (r) => {
        const entity = requestToEntity(r);
        expect(entity.partitionKey).toBe(encodeKey(r.server));
        expect(entity.rowKey).toBe(`~request.${r.requestId}`);
        expect(strip(entityToRequest(asRead(entity, 'W/"9"')))).toEqual({ ...strip(r), etag: 'W/"9"' });
      }),
      RUNS,
    );
  });

  it('keep a state this version does not know as it was stored, read as unknown, neither in force nor replaced', () => {
    const stored = asRead({ ...requestToEntity(request()), State: 'escalated', ReplacedBy: 'x', ReplacedReason: 'limit' });
    const r = entityToRequest(stored);
    expect([r.state, r.unknownState, r.replaced, isInForce(r)]).toEqual(['unknown', 'escalated', undefined, false]);
    // Written back, the row keeps the state it was read with.
    expect(requestToEntity(r).State).toBe('escalated');
    expect(requestToEntity({ ...r, unknownState: undefined }).State).toBe('');
  });

  it('read a replaced request whose reason this version does not know (or that has none) as a repeat', () => {
    for (const reason of ['superseded', '', undefined]) {
      const entity = { ...requestToEntity(request({ state: 'replaced', replaced: { by: 'req2', reason: 'limit' } })), ReplacedReason: reason };
      expect(entityToRequest(asRead(entity)).replaced, String(reason)).toEqual({ by: 'req2', reason: 'repeat' });
    }
  });

  it('read missing columns as empty, never as a pending request', () => {
    const r = entityToRequest({ rowKey: '~request.x' });
    expect(r).toMatchObject({ server: '', requestId: '', state: 'unknown', unknownState: '', requestedAt: 0 });
    expect([r.decidedAt, r.hostName, r.requestHash, r.etag]).toEqual([undefined, undefined, undefined, undefined]);
    // An ETag that is not text (no SDK answer has one) is none, not passed on to a conditional write.
    expect(entityToRequest({ rowKey: '~request.x', etag: 7 }).etag).toBeUndefined();
  });

  it('write a salt only beside a requester secret, and no decision or replacement not made', () => {
    const plain = requestToEntity(request());
    for (const column of ['RequestSalt', 'RequestHash', 'DecidedAt', 'ReplacedBy', 'ReplacedReason']) expect(plain, column).not.toHaveProperty(column);
    expect(requestToEntity(request({ requestHash: 'h' }))).toMatchObject({ RequestSalt: '', RequestHash: 'h' });
  });

  it('count pending, approved and denied as in force, not replaced or unknown', () => {
    expect((['pending', 'approved', 'denied', 'replaced', 'unknown'] as const).map((state) => isInForce(request({ state })))).toEqual([true, true, true, false, false]);
  });

  it('are marked replaced by one merge of the state and why', () => {
    expect(replacedMark(request(), 'key9', 'key')).toStrictEqual({
      partitionKey: encodeKey('exch01.corp.contoso.com'),
      rowKey: '~request.req1',
      State: 'replaced',
      ReplacedBy: 'key9',
      ReplacedReason: 'key',
    });
  });
});

describe('the refusal row and the head', () => {
  it('a refusal reads back as written, and counts until a new key clears it', () => {
    const refusal = { server: 'exch01', keyId: 'k1', reason: 'revoked', refusedAt: T };
    const entity = refusalToEntity(refusal);
    expect([entity.partitionKey, entity.rowKey]).toEqual([encodeKey('exch01'), REFUSED_ROW]);
    expect(entityToRefusal(asRead(entity))).toStrictEqual(refusal);
    expect(refusalClearedMark('exch01', 'k2')).toStrictEqual({ partitionKey: encodeKey('exch01'), rowKey: REFUSED_ROW, Reason: 'cleared', ClearedBy: 'k2' });
    expect(entityToRefusal({})).toStrictEqual({ server: '', keyId: '', reason: '', refusedAt: 0 });
  });

  it('a head is blocked only when ReenrolBlocked is true, and keeps its ETag', () => {
    const head = (ReenrolBlocked: unknown) => entityToHead({ rowKey: HEAD_ROW, CurrentKeyId: 'k1', ReenrolBlocked, UpdatedAt: new Date(T), etag: 'W/"3"' });
    expect(head(true)).toStrictEqual({ currentKeyId: 'k1', blocked: true, updatedAt: T, etag: 'W/"3"' });
    for (const other of [false, 'true', 1, undefined]) expect(head(other).blocked, String(other)).toBe(false);
    expect(entityToHead({}).updatedAt).toBe(0);
  });

  it('key rows are the rows below "~"', () => {
    expect(['AbC-_09', 'zzz'].map((rowKey) => isKeyRow({ rowKey }))).toEqual([true, true]);
    expect([HEAD_ROW, REFUSED_ROW, '~request.x', '~'].map((rowKey) => isKeyRow({ rowKey }))).toEqual([false, false, false, false]);
  });
});

describe('keyPartitionOf', () => {
  const row = (r: EnrolmentRequest) => asRead(requestToEntity(r));

  it('sorts the rows as read into the head, the requests in force, those replaced, those unknown, and the refusal', () => {
    const pending = request({ requestId: 'p' });
    const denied = request({ requestId: 'd', state: 'denied', decidedAt: T + 1 });
    const replaced = request({ requestId: 'r', state: 'replaced', replaced: { by: 'p', reason: 'repeat' } });
    const rows: Row[] = [
      { rowKey: 'keyid1', partitionKey: 'x' },
      { rowKey: HEAD_ROW, CurrentKeyId: 'keyid1', UpdatedAt: new Date(T), etag: 'W/"h"' },
      row(pending),
      row(denied),
      row(replaced),
      { ...row(request({ requestId: 'u' })), State: 'escalated' },
      asRead(refusalToEntity({ server: pending.server, keyId: 'old', reason: 'replaced', refusedAt: T })),
    ];
    const p = keyPartitionOf(pending.server, rows);
    expect(p.server).toBe(pending.server);
    expect(p.rows).toBe(rows);
    expect(p.head).toStrictEqual({ currentKeyId: 'keyid1', blocked: false, updatedAt: T, etag: 'W/"h"' });
    expect(p.requests.map((r) => r.requestId)).toEqual(['p', 'd']);
    expect(p.replaced.map((r) => r.requestId)).toEqual(['r']);
    expect(p.unknown.map((r) => [r.requestId, r.unknownState])).toEqual([['u', 'escalated']]);
    expect(p.refusal).toStrictEqual({ server: pending.server, keyId: 'old', reason: 'replaced', refusedAt: T });
  });

  it('has no head, requests or refusal in an empty partition, and no refusal once it is cleared', () => {
    expect(keyPartitionOf('s', [])).toStrictEqual({ server: 's', rows: [], head: undefined, requests: [], replaced: [], unknown: [], refusal: undefined });
    const cleared = { ...asRead(refusalToEntity({ server: 's', keyId: 'old', reason: 'revoked', refusedAt: T })), Reason: 'cleared' };
    expect(keyPartitionOf('s', [cleared]).refusal).toBeUndefined();
  });
});
