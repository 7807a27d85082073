// Enrolment under the re-enrolment policy without storage: a first enrolment, the resend of one
// whose answer was lost (and a slower attempt of it that must not replace the key), a re-enrolment
// by the current key, by a claim or by the request secret of a decided request, a request filed in
// place of the same requester's earlier ones, blocks, denials and the refusals of each proof; then
// collisions with other writers, lost answers, failing storage, the proofs the rate limit asks
// for, an admin's decisions and the listings. The server's key partition, the key store's other
// calls, the enrolment that issues keys and the audit log are fakes that record every call in
// order; the service tests run the same paths over HTTP and Azurite.
import { createHmac, randomBytes } from 'node:crypto';
import { RestError } from '@azure/data-tables';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatServerKey, type Enrolment } from '../../src/app/enrolment';
import { isoInstant as iso } from '../../src/app/iso-time';
import {
  MAX_LISTED,
  Reenrolment,
  REQUEST_TTL_MS,
  requestView,
  SECRET_KEEPING_COLLECTOR,
  sealRequestSecret,
  type EnrolmentFacts,
  type EnrolmentProofs,
  type ReenrolmentDeps,
  type SealedRequestSecret,
} from '../../src/app/reenrolment';
import type { ReenrolmentPolicy } from '../../src/app/settings';
import { ConcurrencyConflictError, StorageUnavailableError, type EnrolmentRequest, type KeyAttention, type KeyPartition, type RequestDecision } from '../../src/store';
import { refusalOf } from '../support/api-request';

const NOW = Date.parse('2026-12-06T12:00:00.000Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SERVER = 'exch01.corp.contoso.com';
const OTHER = 'exch02.corp.contoso.com';
const KEY_ID = 'AAAAAAAAAAAAAAAA';
const KEY_SECRET = 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cwA';
/** Request secrets a collector makes (x-enrolment-request). */
const REQ = 'cmVxdWVzdC1zZWNyZXQtb25l';
const REQ2 = 'cmVxdWVzdC1zZWNyZXQtdHdv';
/** The claim secret of every request the tests place. */
const CLAIM = 'Y2xhaW0tc2VjcmV0LWNsYWltLXNlY3JldC1jbGFpbQ';
const SALT = Buffer.alloc(16, 7);
const hmac = (salt: Buffer, secret: string) => createHmac('sha256', salt).update(secret).digest('base64');
const FACTS: EnrolmentFacts = { hostName: 'EXCH01', fqdn: SERVER, collector: 'Send-PostureSnapshot 1.2.0', source: '10.0.0.7' };
const KEY = formatServerKey({ server: SERVER, keyId: KEY_ID, secret: KEY_SECRET });

/** `secret` sealed under a fixed salt of its own (a request secret as a key or a request keeps it). */
const sealed = (secret: string): SealedRequestSecret => ({ requestSalt: Buffer.alloc(16, 9).toString('base64'), requestHash: hmac(Buffer.alloc(16, 9), secret) });

/** A key row of SERVER as its partition read holds it. */
function keyRow(keyId: string, secret: string, o: { issuedAt?: number; status?: string; request?: SealedRequestSecret; requestAt?: number } = {}) {
  return {
    partitionKey: SERVER,
    rowKey: keyId,
    Server: SERVER,
    KeyId: keyId,
    Salt: SALT.toString('base64'),
    Hash: hmac(SALT, secret),
    Status: o.status ?? 'active',
    IssuedAt: new Date(o.issuedAt ?? NOW - HOUR),
    IssuedBy: 'enrolment',
    ...(o.request ? { RequestSalt: o.request.requestSalt, RequestHash: o.request.requestHash } : {}),
    ...(o.requestAt === undefined ? {} : { RequestAt: new Date(o.requestAt) }),
  };
}

/** A re-enrolment request of SERVER whose claim secret is CLAIM, filed an hour ago by FACTS. */
const request = (requestId: string, over: Partial<EnrolmentRequest> = {}): EnrolmentRequest => ({
  server: SERVER,
  requestId,
  claimSalt: SALT.toString('base64'),
  claimHash: hmac(SALT, CLAIM),
  state: 'pending',
  requestedAt: NOW - HOUR,
  hostName: 'EXCH01',
  fqdn: SERVER,
  collector: 'Send-PostureSnapshot 1.2.0',
  source: '10.0.0.7',
  etag: `etag-${requestId}`,
  ...over,
});
const claimOf = (requestId: string, secret = CLAIM) => `${requestId}.${secret}`;

/** What a write does instead of landing: throw, or land and then answer a conflict (its answer lost). */
type WriteFailure = Error | 'landed-then-conflict' | undefined;

/**
 * SERVER's key partition in memory, the key store's other calls, the enrolment that issues keys,
 * whether servers posted, and every call made, in order. A write (a key issued, a request filed)
 * lands only on the partition it was decided on, else it is a conflict; other writers' changes
 * are queued to land just before the next write, and failures one per write.
 */
function world(policy: ReenrolmentPolicy = 'approval') {
  let now = NOW;
  let issued = 0;
  let partition: KeyPartition = { server: SERVER, rows: [], requests: [], replaced: [], unknown: [] };
  const calls: unknown[][] = [];
  const lines: string[] = [];
  /** Every partition read, in order: a write names the one it was decided on by its place here. */
  const reads: KeyPartition[] = [];
  /** The requests filed, whole. */
  const filed: EnrolmentRequest[] = [];
  const readFailures: (Error | undefined)[] = [];
  const writeFailures: WriteFailure[] = [];
  const interleaved: (() => void)[] = [];
  const posted = new Set<string>();
  /** What the next committedSince calls answer (false when none is queued). */
  const committed: boolean[] = [];
  const decisions: ({ request: EnrolmentRequest; decidedNow: boolean } | undefined)[] = [];
  const listed: { requests: EnrolmentRequest[]; truncated: boolean }[] = [];
  const attention: { servers: KeyAttention[]; truncated: boolean }[] = [];
  const awaiting: { servers: { server: string; issuedAt: number; unmarked?: string }[]; truncated: boolean }[] = [];
  const basisOf = (basis: KeyPartition | undefined) => (basis === undefined ? undefined : `read ${reads.indexOf(basis) + 1}`);
  const secretName = (s: SealedRequestSecret | undefined) =>
    s === undefined ? undefined : (['REQ', 'REQ2'].find((n) => hmac(Buffer.from(s.requestSalt, 'base64'), n === 'REQ' ? REQ : REQ2) === s.requestHash) ?? 'another');
  const change = (over: Partial<KeyPartition>) => void (partition = { ...partition, ...over });
  const write = (basis: KeyPartition, land: () => void) => {
    interleaved.shift()?.();
    const failure = writeFailures.shift();
    if (failure instanceof Error) throw failure;
    if (basis !== partition) throw new ConcurrencyConflictError(`${SERVER} changed`);
    land();
    if (failure === 'landed-then-conflict') throw new ConcurrencyConflictError('the retry met its own ETags');
  };
  /** Lands a key as the store does: the only active one, the head naming it, every request in force settled by it. */
  const landKey = (keyId: string, secret: string, o: { request?: SealedRequestSecret; requestAt?: number; issuedAt?: number } = {}) => {
    const replaced = partition.rows.filter((r) => r.Status === 'active').map((r) => String(r.KeyId));
    change({
      rows: [...partition.rows.map((r) => (r.Status === 'active' ? { ...r, Status: 'revoked' } : r)), keyRow(keyId, secret, { issuedAt: o.issuedAt ?? now, request: o.request, requestAt: o.request ? (o.requestAt ?? o.issuedAt ?? now) : undefined })],
      head: { currentKeyId: keyId, blocked: false, updatedAt: now, etag: `head-${keyId}` },
      requests: [],
      replaced: [...partition.replaced, ...partition.requests.map((r) => ({ ...r, state: 'replaced' as const, replaced: { by: keyId, reason: 'key' as const } }))],
    });
    return replaced;
  };
  const keyStore = {
    keyPartition: async (server: string) => {
      calls.push(['keyPartition', server]);
      const failure = readFailures.shift();
      if (failure) throw failure;
      reads.push(partition);
      return partition;
    },
    addRequest: async (r: EnrolmentRequest, basis: KeyPartition, repeats: readonly EnrolmentRequest[]) => {
      calls.push(['addRequest', basisOf(basis), repeats.map((x) => x.requestId)]);
      filed.push(r);
      write(basis, () => {
        const gone = new Set(repeats.map((x) => x.requestId));
        change({
          requests: [...partition.requests.filter((x) => !gone.has(x.requestId)), r],
          replaced: [...partition.replaced, ...partition.requests.filter((x) => gone.has(x.requestId)).map((x) => ({ ...x, state: 'replaced' as const, replaced: { by: r.requestId, reason: 'repeat' as const } }))],
        });
      });
    },
    decideRequest: async (server: string, requestId: string, decision: RequestDecision, at: number, openFor: number) => {
      calls.push(['decideRequest', server, requestId, decision, at, openFor]);
      return decisions.shift();
    },
    listRequests: async (state: string, max: number) => (calls.push(['listRequests', state, max]), listed.shift() ?? { requests: [], truncated: false }),
    listAttention: async (max: number) => (calls.push(['listAttention', max]), attention.shift() ?? { servers: [], truncated: false }),
    keysAwaitingFirstPost: async (to: number, unmarkedFrom: number | undefined, max: number) => (
      calls.push(['keysAwaitingFirstPost', to, unmarkedFrom, max]), awaiting.shift() ?? { servers: [], truncated: false }
    ),
    markPosted: async (server: string) => void calls.push(['markPosted', server]),
    markNotPosted: async (server: string, etag: string) => void calls.push(['markNotPosted', server, etag]),
  };
  const log = { log: (l: string) => void lines.push(l) };
  const enrolment = {
    issue: async (server: string, facts: unknown, issuedBy: string, logTo: unknown, options: { basis: KeyPartition; grant?: string; request?: SealedRequestSecret; requestAt?: number }) => {
      calls.push(['issue', server, facts, issuedBy, { basis: basisOf(options.basis), grant: options.grant, request: secretName(options.request), requestAt: options.requestAt }]);
      expect(logTo).toBe(log);
      expect(Object.keys(options)).toStrictEqual(['basis', 'grant', 'request', 'requestAt']);
      const keyId = `KEY${String(++issued).padStart(13, '0')}`;
      const secret = randomBytes(32).toString('base64url');
      let replaced: string[] = [];
      write(options.basis, () => void (replaced = landKey(keyId, secret, { request: options.request, requestAt: options.requestAt })));
      return { server, keyId, key: formatServerKey({ server, keyId, secret }), issuedAt: iso(now), replaced };
    },
  };
  const deps = {
    enrolment: enrolment as unknown as Enrolment,
    keyStore,
    policy,
    hasPosted: async (server: string) => (calls.push(['hasPosted', server]), posted.has(server)),
    committedSince: async (server: string, since: number) => (calls.push(['committedSince', server, since]), committed.shift() ?? false),
    clock: () => now,
  };
  const reenrolment = new Reenrolment(deps as unknown as ReenrolmentDeps);
  return {
    reenrolment,
    calls,
    lines,
    reads,
    filed,
    readFailures,
    writeFailures,
    interleaved,
    posted,
    committed,
    decisions,
    listed,
    attention,
    awaiting,
    log,
    change,
    landKey,
    partition: () => partition,
    at: (t: number) => void (now = t),
    /** SERVER enrolled with KEY, issued an hour ago (with `o`, a request secret it keeps). */
    enrolled(o: { request?: SealedRequestSecret; requestAt?: number; issuedAt?: number; status?: string } = {}) {
      change({ rows: [keyRow(KEY_ID, KEY_SECRET, { issuedAt: NOW - HOUR, ...o })], head: { currentKeyId: KEY_ID, blocked: false, updatedAt: o.issuedAt ?? NOW - HOUR, etag: 'head-0' } });
    },
    enrol: (proofs: EnrolmentProofs = {}, facts: EnrolmentFacts = FACTS) => reenrolment.enrol(SERVER, facts, proofs, log),
    steps: () => calls.map((c) => c[0]),
    /** The audit records written, as name and fields. */
    records: () => lines.map((l) => [l.slice(0, l.indexOf(' ')), JSON.parse(l.slice(l.indexOf(' ') + 1)) as unknown]),
  };
}

type World = ReturnType<typeof world>;
const ISSUE_FACTS = { hostName: 'EXCH01', fqdn: SERVER };
const issueCall = (grant?: string, o: { request?: string; requestAt?: number; basis?: string } = {}) => [
  'issue',
  SERVER,
  ISSUE_FACTS,
  'enrolment',
  { basis: o.basis ?? 'read 1', grant, request: o.request, requestAt: o.requestAt },
];
/** The body of a 201 answer, checked against the key the partition now names. */
function expectIssued(w: World, answer: Awaited<ReturnType<World['enrol']>>) {
  expect(answer.status).toBe(201);
  const body = answer.body as { keyId: string; server: string; issuedAt: string };
  expect(body.keyId).toBe(w.partition().head?.currentKeyId);
  expect(body).toMatchObject({ server: SERVER, issuedAt: iso(NOW) });
}
/** The request id of a 202 answer. */
const pendingId = (answer: Awaited<ReturnType<World['enrol']>>) => (answer.status === 202 ? answer.body.requestId : 'answered 201');
const PENDING_MESSAGE = (requestId: string) =>
  `The re-enrolment of ${SERVER} waits for an admin's approval (request ${requestId}); enrol again with the claim in x-enrolment-claim to collect the key once approved.`;
const FORBIDDEN_KEY = `The key in x-server-key is not the current key of ${SERVER}; without it an admin must approve the re-enrolment.`;
const BLOCKED = ['forbidden', `An admin blocked the enrolment of ${SERVER}; only an admin's rotation of its key can issue it a key now.`];

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a request secret sealed for storage', () => {
  it('is the HMAC of the secret under a new 16-byte salt of its own, never the secret', () => {
    const a = sealRequestSecret(REQ);
    const b = sealRequestSecret(REQ);
    expect(Object.keys(a)).toStrictEqual(['requestSalt', 'requestHash']);
    expect(Buffer.from(a.requestSalt, 'base64')).toHaveLength(16);
    expect(a.requestHash).toBe(hmac(Buffer.from(a.requestSalt, 'base64'), REQ));
    expect(b.requestSalt).not.toBe(a.requestSalt);
    expect(JSON.stringify(a)).not.toContain(REQ);
  });

  it('keeps a request open a week, lists at most 5000 rows, and trusts collectors from 1.1.0 to keep their secret', () => {
    expect(REQUEST_TTL_MS).toBe(7 * DAY);
    expect(MAX_LISTED).toBe(5000);
    expect(SECRET_KEEPING_COLLECTOR).toBe('1.1.0');
  });
});

describe('a first enrolment', () => {
  it('on the open policy issues a key at once on the partition read, with the host name and fqdn alone, asking nothing more', async () => {
    const w = world('open');
    const answer = await w.enrol();
    expectIssued(w, answer);
    expect(w.calls).toStrictEqual([['keyPartition', SERVER], issueCall()]);
    expect(w.lines).toStrictEqual([]);
  });

  it('on the approval policy asks whether the server posted before, and issues a key when it did not', async () => {
    const w = world();
    w.posted.add(OTHER);
    expectIssued(w, await w.enrol({}, { hostName: 'EXCH01' }));
    expect(w.calls).toStrictEqual([['keyPartition', SERVER], ['hasPosted', SERVER], ['issue', SERVER, { hostName: 'EXCH01', fqdn: undefined }, 'enrolment', { basis: 'read 1', grant: undefined, request: undefined, requestAt: undefined }]]);
  });

  it('keeps the request secret sent with it, sealed, with its key', async () => {
    const w = world();
    expectIssued(w, await w.enrol({ request: REQ }));
    expect(w.calls.at(-1)).toStrictEqual(issueCall(undefined, { request: 'REQ' }));
  });

  it('of a server without keys that posted before is a re-enrolment on the approval policy: a request is filed', async () => {
    const w = world();
    w.posted.add(SERVER);
    const answer = await w.enrol();
    expect(answer.status).toBe(202);
    expect(w.steps()).toStrictEqual(['keyPartition', 'hasPosted', 'addRequest']);
  });

  it('of a server without keys that posted before gets a key on the open policy, without asking', async () => {
    const w = world('open');
    w.posted.add(SERVER);
    expectIssued(w, await w.enrol());
    expect(w.steps()).toStrictEqual(['keyPartition', 'issue']);
  });
});

describe('the request secret of an enrolment', () => {
  it('is refused when shorter than 22 or longer than 128 characters, or with a character outside base64url, before anything is read', async () => {
    const w = world();
    for (const request of ['A'.repeat(21), 'A'.repeat(129), `=${'A'.repeat(22)}`, `${'A'.repeat(22)}=`, `${'A'.repeat(11)}+${'A'.repeat(11)}`, '']) {
      expect(await refusalOf(() => w.enrol({ request })), request).toStrictEqual([
        'invalid_enrolment',
        'The x-enrolment-request header must be 22 to 128 letters, digits, dashes or underscores: a random secret made once per enrolment and sent again with each resend of it.',
      ]);
    }
    expect(w.calls).toStrictEqual([]);
  });

  it('takes 22 to 128 letters, digits, dashes and underscores', async () => {
    for (const request of ['azAZ09_-'.repeat(2) + 'abcdef', 'A'.repeat(128)]) {
      const w = world();
      expect((await w.enrol({ request })).status, request).toBe(201);
    }
  });
});

describe('a server whose enrolment an admin blocked', () => {
  it('is refused with 403 and a refusal record, whatever the proofs and the policy, and nothing is written', async () => {
    for (const policy of ['open', 'approval'] as const) {
      const w = world(policy);
      w.enrolled({ request: sealed(REQ) });
      w.change({ head: { ...w.partition().head!, blocked: true } });
      expect(await refusalOf(() => w.enrol({ currentKey: KEY, request: REQ }))).toStrictEqual(BLOCKED);
      expect(w.calls).toStrictEqual([['keyPartition', SERVER]]);
      expect(w.records()).toStrictEqual([['FleetPosture.ServerKeyRefused', { server: SERVER, reason: 'enrolment-blocked' }]]);
    }
  });
});

describe('the resend of an enrolment whose answer was lost', () => {
  it('replaces the key nobody holds as the same request, keeping the time the enrolment was first asked', async () => {
    const w = world();
    w.enrolled({ request: sealed(REQ), issuedAt: NOW - HOUR, requestAt: NOW - 2 * HOUR });
    expectIssued(w, await w.enrol({ request: REQ }));
    expect(w.calls).toStrictEqual([['keyPartition', SERVER], ['committedSince', SERVER, NOW - HOUR], issueCall('same-request', { request: 'REQ', requestAt: NOW - 2 * HOUR })]);
  });

  it('takes the time the key was issued when the key kept no other, on either policy', async () => {
    for (const policy of ['open', 'approval'] as const) {
      const w = world(policy);
      w.enrolled({ request: sealed(REQ), issuedAt: NOW - 3 * HOUR });
      expectIssued(w, await w.enrol({ request: REQ }));
      expect(w.calls.at(-1), policy).toStrictEqual(issueCall('same-request', { request: 'REQ', requestAt: NOW - 3 * HOUR }));
    }
  });

  it('matches a key whose request salt was stored empty', async () => {
    const w = world();
    w.change({ rows: [{ ...keyRow(KEY_ID, KEY_SECRET, { request: { requestSalt: '', requestHash: hmac(Buffer.alloc(0), REQ) } }) }], head: { currentKeyId: KEY_ID, blocked: false, updatedAt: NOW - HOUR, etag: 'h' } });
    expectIssued(w, await w.enrol({ request: REQ }));
    expect(w.calls.at(-1)).toStrictEqual(issueCall('same-request', { request: 'REQ', requestAt: NOW - HOUR }));
  });

  it('is a resend still a week after the enrolment was first asked, not a moment later, when the server has not posted', async () => {
    const w = world();
    w.enrolled({ request: sealed(REQ), requestAt: NOW - REQUEST_TTL_MS });
    expectIssued(w, await w.enrol({ request: REQ }));
    const late = world();
    late.enrolled({ request: sealed(REQ), requestAt: NOW - REQUEST_TTL_MS - 1 });
    expect((await late.enrol({ request: REQ })).status).toBe(202);
    // Past the week, whether it posted is not asked.
    expect(late.steps()).toStrictEqual(['keyPartition', 'addRequest']);
  });

  it('is not one once the key posted: the approval policy files a request, the open one issues an ordinary key', async () => {
    const w = world();
    w.enrolled({ request: sealed(REQ) });
    w.committed.push(true);
    expect((await w.enrol({ request: REQ })).status).toBe(202);
    expect(w.steps()).toStrictEqual(['keyPartition', 'committedSince', 'addRequest']);
    const open = world('open');
    open.enrolled({ request: sealed(REQ) });
    open.committed.push(true);
    expectIssued(open, await open.enrol({ request: REQ }));
    expect(open.calls.at(-1)).toStrictEqual(issueCall(undefined, { request: 'REQ' }));
  });

  it('is not one with another secret, nor for a key that keeps none, a revoked key, or a head naming no row', async () => {
    const cases: [string, (w: World) => void][] = [
      ['another secret', (w) => w.enrolled({ request: sealed(REQ2) })],
      ['no secret kept', (w) => w.enrolled()],
      ['revoked', (w) => w.enrolled({ request: sealed(REQ), status: 'revoked' })],
      ['no row', (w) => w.change({ rows: [keyRow('BBBBBBBBBBBBBBBB', KEY_SECRET, { request: sealed(REQ) })], head: { currentKeyId: KEY_ID, blocked: false, updatedAt: NOW, etag: 'h' } })],
    ];
    for (const [what, arrange] of cases) {
      const w = world();
      arrange(w);
      expect((await w.enrol({ request: REQ })).status, what).toBe(202);
      expect(w.steps(), what).toStrictEqual(['keyPartition', 'addRequest']);
    }
  });

  it('issues nothing when a later attempt of it got the key while it waited (409), and leaves that key', async () => {
    const w = world();
    w.enrolled({ request: sealed(REQ), issuedAt: NOW + 1 });
    expect(await refusalOf(() => w.enrol({ request: REQ }))).toStrictEqual([
      'enrolment_superseded',
      `A later attempt of this enrolment of ${SERVER} (the same x-enrolment-request) got a key while this one waited; this attempt issues none, and the key that attempt got stays valid.`,
    ]);
    expect(w.calls).toStrictEqual([['keyPartition', SERVER]]);
    expect(w.partition().head?.currentKeyId).toBe(KEY_ID);
    // A key issued the moment this attempt started is the one it resends.
    const same = world();
    same.enrolled({ request: sealed(REQ), issuedAt: NOW });
    expectIssued(same, await same.enrol({ request: REQ }));
  });

  it('is superseded when, after a collision, it finds the key a later attempt got since it started', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const w = world();
    w.enrolled();
    w.interleaved.push(() => {
      w.at(NOW + 10);
      w.landKey('CCCCCCCCCCCCCCCC', KEY_SECRET, { request: sealed(REQ) });
    });
    expect((await refusalOf(() => w.enrol({ request: REQ })))[0]).toBe('enrolment_superseded');
    expect(w.steps()).toStrictEqual(['keyPartition', 'addRequest', 'keyPartition']);
  });

  it('of a first enrolment gets the key again, as the same request, when the answer of its first attempt was lost', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const w = world();
    w.writeFailures.push('landed-then-conflict');
    expectIssued(w, await w.enrol({ request: REQ }));
    expect(w.calls).toStrictEqual([
      ['keyPartition', SERVER],
      ['hasPosted', SERVER],
      issueCall(undefined, { request: 'REQ' }),
      ['keyPartition', SERVER],
      ['committedSince', SERVER, NOW],
      issueCall('same-request', { request: 'REQ', requestAt: NOW, basis: 'read 2' }),
    ]);
  });
});

describe('a re-enrolment by the current key', () => {
  it('issues a key granted by that key, on the partition read, without asking whether the server posted', async () => {
    const w = world();
    w.enrolled();
    expectIssued(w, await w.enrol({ currentKey: KEY }));
    expect(w.calls).toStrictEqual([['keyPartition', SERVER], issueCall('current-key')]);
  });

  it('issues one for a key that keeps a request secret, sent without any, and finds its row among older ones', async () => {
    const w = world();
    w.change({
      rows: [keyRow('BBBBBBBBBBBBBBBB', KEY_SECRET, { status: 'revoked', issuedAt: NOW - DAY }), keyRow(KEY_ID, KEY_SECRET, { request: sealed(REQ) })],
      head: { currentKeyId: KEY_ID, blocked: false, updatedAt: NOW - HOUR, etag: 'h' },
    });
    expectIssued(w, await w.enrol({ currentKey: KEY }));
    expect(w.calls).toStrictEqual([['keyPartition', SERVER], issueCall('current-key')]);
  });

  it('issues one when the request secret sent with it repeats nothing, keeping that secret', async () => {
    const w = world();
    w.enrolled();
    expectIssued(w, await w.enrol({ currentKey: KEY, request: REQ }));
    expect(w.calls).toStrictEqual([['keyPartition', SERVER], issueCall('current-key', { request: 'REQ' })]);
  });

  it('refuses a key that is not the current one (403), before any claim, issuing nothing', async () => {
    const other = (o: object) => formatServerKey({ server: SERVER, keyId: KEY_ID, secret: KEY_SECRET, ...o });
    const cases: [string, string, (w: World) => void][] = [
      ['not a key', 'fp1.nonsense', () => undefined],
      ['of another server', other({ server: OTHER }), () => undefined],
      ['an older key id', other({ keyId: 'BBBBBBBBBBBBBBBB' }), () => undefined],
      ['another secret', other({ secret: 'A'.repeat(43) }), () => undefined],
      ['its row missing', KEY, (w) => w.change({ rows: [] })],
      ['its row revoked', KEY, (w) => w.enrolled({ status: 'revoked' })],
      ['no head', KEY, (w) => w.change({ head: undefined })],
    ];
    for (const [what, currentKey, arrange] of cases) {
      const w = world();
      w.enrolled();
      w.posted.add(SERVER);
      w.change({ requests: [request('rq1', { state: 'approved' })] });
      arrange(w);
      expect(await refusalOf(() => w.enrol({ currentKey, claim: claimOf('rq1') })), what).toStrictEqual(['forbidden', FORBIDDEN_KEY]);
      expect(w.steps().filter((s) => s !== 'hasPosted'), what).toStrictEqual(['keyPartition']);
      expect(w.lines, what).toStrictEqual([]);
    }
  });

  it('is not looked at on the open policy: any enrolment of an enrolled server gets a key', async () => {
    const w = world('open');
    w.enrolled();
    expectIssued(w, await w.enrol({ currentKey: 'fp1.nonsense', claim: 'bad' }));
    expect(w.calls).toStrictEqual([['keyPartition', SERVER], issueCall()]);
  });
});

describe('a re-enrolment with a claim', () => {
  it('collects the key an admin approved', async () => {
    const w = world();
    w.enrolled();
    w.change({ requests: [request('rq1', { state: 'approved', decidedAt: NOW - MINUTE })] });
    expectIssued(w, await w.enrol({ claim: claimOf('rq1') }));
    expect(w.calls).toStrictEqual([['keyPartition', SERVER], issueCall('admin-approval')]);
  });

  it('of a request an admin denied is refused (403) and recorded', async () => {
    const w = world();
    w.enrolled();
    w.change({ requests: [request('rq1', { state: 'denied' })] });
    expect(await refusalOf(() => w.enrol({ claim: claimOf('rq1') }))).toStrictEqual([
      'forbidden',
      `An admin denied the re-enrolment request rq1 of ${SERVER}; ask an admin to approve a new one or rotate its key.`,
    ]);
    expect(w.records()).toStrictEqual([['FleetPosture.ServerKeyRefused', { server: SERVER, reason: 'enrolment-denied', requestId: 'rq1' }]]);
    expect(w.steps()).toStrictEqual(['keyPartition']);
  });

  it('of a pending request answers 202 again, without a claim, writing nothing', async () => {
    const w = world();
    w.enrolled();
    w.change({ requests: [request('rq0', { requestedAt: NOW - 2 * HOUR }), request('rq1', { requestedAt: NOW - 5 * MINUTE })] });
    expect(await w.enrol({ claim: claimOf('rq1') })).toStrictEqual({
      status: 202,
      body: { server: SERVER, status: 'pending', requestId: 'rq1', requestedAt: iso(NOW - 5 * MINUTE), message: PENDING_MESSAGE('rq1') },
    });
    expect(w.steps()).toStrictEqual(['keyPartition']);
    expect(w.lines).toStrictEqual([]);
  });

  it('is refused (400) when it is not a claim as handed out, after the read and before anything is written', async () => {
    for (const claim of ['rq1', `.${CLAIM}`, 'rq1.', `rq1.${CLAIM}.x`, `rq1.${CLAIM}.`, `rq!.${CLAIM}`, `!rq.${CLAIM}`, `rq1.${CLAIM}=`, `rq1.=${CLAIM}`, '']) {
      const w = world();
      w.enrolled();
      w.change({ requests: [request('rq1')] });
      expect(await refusalOf(() => w.enrol({ claim })), claim).toStrictEqual(['invalid_query', 'The x-enrolment-claim header must be the claim a 202 answer of enrolment handed out, unchanged.']);
      expect(w.steps()).toStrictEqual(['keyPartition']);
    }
  });

  it('is refused (403) when its secret is not the one of the request it names', async () => {
    const w = world();
    w.enrolled();
    w.change({ requests: [request('rq1', { state: 'approved' })] });
    expect(await refusalOf(() => w.enrol({ claim: claimOf('rq1', 'A'.repeat(43)) }))).toStrictEqual(['forbidden', `The claim does not belong to re-enrolment request rq1 of ${SERVER}.`]);
    expect(w.steps()).toStrictEqual(['keyPartition']);
  });

  it('files a new request when the one it names is gone, expired or replaced by a newer one', async () => {
    const cases: [string, Partial<KeyPartition>][] = [
      ['gone', { requests: [request('rq2', { state: 'approved' })] }],
      ['expired', { requests: [request('rq1', { state: 'approved', requestedAt: NOW - REQUEST_TTL_MS - 1 })] }],
      ['replaced', { replaced: [request('rq1', { state: 'replaced', replaced: { by: 'rq9', reason: 'repeat' } })] }],
      ['replaced for no reason named', { replaced: [request('rq1', { state: 'replaced' })] }],
    ];
    for (const [what, over] of cases) {
      const w = world();
      w.enrolled();
      w.change(over);
      const answer = await w.enrol({ claim: claimOf('rq1') });
      expect(answer.status, what).toBe(202);
      expect((answer.body as { claim?: string }).claim, what).toMatch(/^[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}$/);
      expect(w.steps(), what).toStrictEqual(['keyPartition', 'addRequest']);
    }
  });

  it('still collects the key a week after the request was filed', async () => {
    const w = world();
    w.enrolled();
    w.change({ requests: [request('rq1', { state: 'approved', requestedAt: NOW - REQUEST_TTL_MS })] });
    expectIssued(w, await w.enrol({ claim: claimOf('rq1') }));
  });

  it('of a request in a state this version does not know is refused (409) and changes nothing', async () => {
    const w = world();
    w.enrolled();
    w.change({ unknown: [request('rq1', { state: 'unknown', unknownState: 'escalated-to-security-team-for-review-by-friday' }), request('rq2', { state: 'unknown' })] });
    expect(await refusalOf(() => w.enrol({ claim: claimOf('rq1') }))).toStrictEqual([
      'unknown_request_state',
      `The re-enrolment request "rq1" of ${SERVER} is in the state "escalated-to-security-team-for-review-by", which this version of the service does not know, so it cannot be collected here and nothing was changed.`,
    ]);
    expect((await refusalOf(() => w.enrol({ claim: claimOf('rq2') })))[1]).toContain('is in the state "", which');
    expect(w.steps()).toStrictEqual(['keyPartition', 'keyPartition']);
  });

  it('of a request a revocation closed is refused (409), naming when, and changes nothing', async () => {
    const w = world();
    w.enrolled();
    const at = iso(NOW - MINUTE);
    w.change({ replaced: [request('rq1', { state: 'replaced', replaced: { by: at, reason: 'revoked' } })] });
    expect(await refusalOf(() => w.enrol({ claim: claimOf('rq1') }))).toStrictEqual([
      'request_closed',
      `The re-enrolment request "rq1" of ${SERVER} was closed when an admin revoked the keys of the server at ${at}, so it yields no key; enrol again without the claim to file a new request.`,
    ]);
    expect(w.steps()).toStrictEqual(['keyPartition']);
  });

  it('is read before the request secret: a pending claim answers 202 though the secret filed an approved request', async () => {
    const w = world();
    w.enrolled();
    w.change({ requests: [request('rq1'), request('rq2', { state: 'approved', ...sealed(REQ) })] });
    expect((await w.enrol({ claim: claimOf('rq1'), request: REQ })).body).toMatchObject({ requestId: 'rq1', status: 'pending' });
    expect(w.steps()).toStrictEqual(['keyPartition']);
  });
});

describe('a re-enrolment with the request secret alone', () => {
  it('collects the key of the request it filed once approved, its 202 answer lost', async () => {
    const w = world();
    w.enrolled();
    w.change({ requests: [request('rq0', { state: 'approved', ...sealed(REQ2) }), request('rq1', { state: 'approved', ...sealed(REQ) })] });
    expectIssued(w, await w.enrol({ request: REQ }));
    expect(w.calls).toStrictEqual([['keyPartition', SERVER], issueCall('admin-approval', { request: 'REQ' })]);
  });

  it('is refused (403) when that request was denied', async () => {
    const w = world();
    w.enrolled();
    w.change({ requests: [request('rq1', { state: 'denied', ...sealed(REQ) })] });
    expect((await refusalOf(() => w.enrol({ request: REQ })))[0]).toBe('forbidden');
    expect(w.records()).toStrictEqual([['FleetPosture.ServerKeyRefused', { server: SERVER, reason: 'enrolment-denied', requestId: 'rq1' }]]);
  });

  it('collects a week after the request, and files a new one after that', async () => {
    const w = world();
    w.enrolled();
    w.change({ requests: [request('rq1', { state: 'approved', requestedAt: NOW - REQUEST_TTL_MS, ...sealed(REQ) })] });
    expectIssued(w, await w.enrol({ request: REQ }));
    const late = world();
    late.enrolled();
    late.change({ requests: [request('rq1', { state: 'approved', requestedAt: NOW - REQUEST_TTL_MS - 1, ...sealed(REQ) })] });
    expect((await late.enrol({ request: REQ })).status).toBe(202);
    expect(late.calls[1]).toStrictEqual(['addRequest', 'read 1', []]);
  });

  it('is not asked of decided requests when none came: a request is filed', async () => {
    const w = world();
    w.enrolled();
    w.change({ requests: [request('rq1', { state: 'approved', ...sealed(REQ) })] });
    expect((await w.enrol()).status).toBe(202);
    expect(w.calls).toStrictEqual([
      ['keyPartition', SERVER],
      ['addRequest', 'read 1', []],
    ]);
  });

  it('of a server whose head is gone, that posted before, files a request though a key row keeps the secret', async () => {
    const w = world();
    w.posted.add(SERVER);
    w.change({ rows: [keyRow(KEY_ID, KEY_SECRET, { request: sealed(REQ) })], requests: [request('rq1', sealed(REQ))] });
    expect((await w.enrol({ request: REQ })).status).toBe(202);
    expect(w.steps()).toStrictEqual(['keyPartition', 'hasPosted', 'addRequest']);
  });

  it('of a pending request files one in its place, whose claim it then holds', async () => {
    const w = world();
    w.enrolled();
    w.change({ requests: [request('rq1', sealed(REQ))] });
    const answer = await w.enrol({ request: REQ });
    expect(answer.status).toBe(202);
    expect(w.calls).toStrictEqual([
      ['keyPartition', SERVER],
      ['addRequest', 'read 1', ['rq1']],
    ]);
  });
});

describe('a request filed for an admin', () => {
  it('keeps the facts, the sealed request secret and a claim only its requester holds, and records who asked', async () => {
    const w = world();
    w.enrolled();
    const answer = await w.enrol({ request: REQ });
    const [r] = w.filed;
    expect(r).toStrictEqual({
      server: SERVER,
      requestId: r!.requestId,
      claimSalt: r!.claimSalt,
      claimHash: r!.claimHash,
      state: 'pending',
      requestedAt: NOW,
      hostName: 'EXCH01',
      fqdn: SERVER,
      collector: 'Send-PostureSnapshot 1.2.0',
      source: '10.0.0.7',
      requestSalt: r!.requestSalt,
      requestHash: hmac(Buffer.from(r!.requestSalt!, 'base64'), REQ),
    });
    expect(r!.requestId).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(Buffer.from(r!.claimSalt, 'base64')).toHaveLength(16);
    const claim = (answer.body as { claim: string }).claim;
    const [id, secret] = claim.split('.');
    expect(id).toBe(r!.requestId);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r!.claimHash).toBe(hmac(Buffer.from(r!.claimSalt, 'base64'), secret!));
    expect(answer).toStrictEqual({
      status: 202,
      body: { server: SERVER, status: 'pending', requestId: id, requestedAt: iso(NOW), message: PENDING_MESSAGE(id!), claim },
    });
    expect(w.records()).toStrictEqual([
      ['FleetPosture.ReenrolmentRequested', { server: SERVER, requestId: id, hostName: 'EXCH01', fqdn: SERVER, collector: 'Send-PostureSnapshot 1.2.0', source: '10.0.0.7', replaces: null }],
    ]);
    expect(w.partition().requests.map((x) => x.requestId)).toStrictEqual([id]);
  });

  it('keeps no request secret when none came, and records the facts not given as null', async () => {
    const w = world();
    w.enrolled();
    const first = await w.enrol({}, { hostName: 'EXCH01' });
    const second = await w.enrol({}, { hostName: 'EXCH01' });
    expect(Object.keys(w.filed[0]!)).not.toContain('requestHash');
    expect(Object.keys(w.filed[0]!)).not.toContain('requestSalt');
    expect(w.records()[0]![1]).toStrictEqual({ server: SERVER, requestId: pendingId(first), hostName: 'EXCH01', fqdn: null, collector: null, source: null, replaces: null });
    // Each request gets its own id and claim.
    expect(pendingId(second)).not.toBe(pendingId(first));
    expect(w.filed[1]!.claimSalt).not.toBe(w.filed[0]!.claimSalt);
  });

  it('replaces every pending request of the same requester, naming them in the record, and no decided one', async () => {
    const w = world();
    w.enrolled();
    w.change({ requests: [request('rq1', sealed(REQ)), request('rq2', { state: 'approved', ...sealed(REQ2) }), request('rq3', { ...sealed(REQ), source: '10.9.9.9' }), request('rq4', sealed(REQ2))] });
    const answer = await w.enrol({ request: REQ });
    expect(w.calls[1]).toStrictEqual(['addRequest', 'read 1', ['rq1', 'rq3']]);
    expect(w.records()[0]![1]).toMatchObject({ requestId: pendingId(answer), replaces: 'rq1,rq3' });
  });
});

describe('the same requester asking again', () => {
  /** Which of SERVER's pending requests a new one from `facts` with `secret` replaces. */
  async function replaces(pending: Partial<EnrolmentRequest>, facts: Partial<EnrolmentFacts>, secret?: string): Promise<boolean> {
    const w = world();
    w.enrolled();
    w.change({ requests: [request('rq1', pending)] });
    await w.enrol(secret === undefined ? {} : { request: secret }, { ...FACTS, ...facts });
    return (w.calls[1]![2] as string[]).includes('rq1');
  }
  const OLD = 'Send-PostureSnapshot 1.0.5';

  it('is one that keeps its secret by that secret alone, from any address and facts', async () => {
    expect(await replaces(sealed(REQ), { source: '10.9.9.9', hostName: 'OTHER', fqdn: undefined, collector: 'Another 9.0' }, REQ)).toBe(true);
    expect(await replaces(sealed(REQ), {}, REQ2)).toBe(false);
    expect(await replaces(sealed(REQ), {})).toBe(false);
  });

  it('is one that kept no secret though its collector keeps one by the same facts without a secret', async () => {
    expect(await replaces({}, {})).toBe(true);
    expect(await replaces({}, {}, REQ)).toBe(false);
    expect(await replaces({}, { source: '10.9.9.9' })).toBe(false);
  });

  it('is an older collector by the same host name, fqdn, collector name and address, whatever its version or secret', async () => {
    expect(await replaces({ collector: OLD }, {}, REQ)).toBe(true);
    expect(await replaces({ collector: OLD, ...sealed(REQ2) }, { collector: 'Send-PostureSnapshot 1.0.6' })).toBe(true);
    for (const facts of [{ hostName: 'EXCH02' }, { fqdn: 'exch01.other.example' }, { fqdn: undefined }, { source: '10.9.9.9' }, { source: undefined }, { collector: 'Another-Collector 1.0.5' }, { collector: 'Sender 1.0.5' }, { collector: undefined }]) {
      expect(await replaces({ collector: OLD }, facts), JSON.stringify(facts)).toBe(false);
    }
  });

  it('is a 1.0 collector, which named none, by any collector with the same facts (its upgrade)', async () => {
    expect(await replaces({ collector: undefined }, {})).toBe(true);
    expect(await replaces({ collector: undefined }, { collector: undefined })).toBe(true);
    expect(await replaces({ collector: undefined }, { hostName: 'EXCH02' })).toBe(false);
  });

  it('keeps its secret from collector version 1.1.0, a version of digits and dots alone', async () => {
    // A collector that keeps its secret is not repeated by facts alone; one that does not is.
    for (const [collector, keeps] of [
      ['Send-PostureSnapshot 1.1.0', true],
      ['Send-PostureSnapshot 1.10', true],
      ['Send-PostureSnapshot 10.0', true],
      ['Send-PostureSnapshot 2', true],
      ['1.1.0', true],
      ['Send-PostureSnapshot 1.0.9', false],
      ['Send-PostureSnapshot 1.1', false],
      ['Send-PostureSnapshot 1.1.0-beta', false],
      ['Send-PostureSnapshot v1.2.0', false],
      ['Send-PostureSnapshot 1..2', false],
      ['Send-PostureSnapshot 1.2.', false],
      ['Send-PostureSnapshot .1.2', false],
      ['Send-PostureSnapshot', false],
    ] as const) {
      expect(await replaces({ collector, ...sealed(REQ2) }, { collector }), collector).toBe(!keeps);
    }
  });
});

describe('collisions with other writers', () => {
  it('decide again on the partition as it is now: an admin blocking the server meanwhile refuses the request', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const w = world();
    w.enrolled();
    w.interleaved.push(() => w.change({ head: { ...w.partition().head!, blocked: true, etag: 'head-blocked' } }));
    expect(await refusalOf(() => w.enrol())).toStrictEqual(BLOCKED);
    expect(w.steps()).toStrictEqual(['keyPartition', 'addRequest', 'keyPartition']);
    expect(w.partition().requests).toStrictEqual([]);
    expect(w.records().map((r) => r[0])).toStrictEqual(['FleetPosture.ServerKeyRefused']);
  });

  it('a key another enrolment got while this one was issued by the old key: the old key is refused', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const w = world();
    w.enrolled();
    w.interleaved.push(() => w.landKey('DDDDDDDDDDDDDDDD', KEY_SECRET));
    expect(await refusalOf(() => w.enrol({ currentKey: KEY }))).toStrictEqual(['forbidden', FORBIDDEN_KEY]);
    expect(w.steps()).toStrictEqual(['keyPartition', 'issue', 'keyPartition']);
    expect(w.partition().head?.currentKeyId).toBe('DDDDDDDDDDDDDDDD');
  });

  it('a filed request whose answer was lost is filed again in its own place, recorded once', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const w = world();
    w.enrolled();
    w.writeFailures.push('landed-then-conflict');
    const answer = await w.enrol({ request: REQ });
    const [first, second] = w.filed;
    expect(w.calls).toStrictEqual([
      ['keyPartition', SERVER],
      ['addRequest', 'read 1', []],
      ['keyPartition', SERVER],
      ['addRequest', 'read 2', [first!.requestId]],
    ]);
    expect(pendingId(answer)).toBe(second!.requestId);
    expect(w.records()).toStrictEqual([['FleetPosture.ReenrolmentRequested', expect.objectContaining({ requestId: second!.requestId, replaces: first!.requestId })]]);
    expect(w.partition().requests.map((r) => r.requestId)).toStrictEqual([second!.requestId]);
  });

  it('a key whose answer was lost, asked without a request secret, leaves a request filed on the approval policy', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const w = world();
    w.writeFailures.push('landed-then-conflict');
    expect((await w.enrol()).status).toBe(202);
    expect(w.steps()).toStrictEqual(['keyPartition', 'hasPosted', 'issue', 'keyPartition', 'addRequest']);
  });

  it('give up after six, throwing the conflict, having written nothing', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const w = world();
    w.enrolled();
    for (let i = 0; i < 7; i++) w.writeFailures.push(new ConcurrencyConflictError('changed'));
    const error = await w.enrol().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcurrencyConflictError);
    expect((error as Error).message).toBe(`Keys of ${SERVER} stayed contended.`);
    expect(w.steps()).toStrictEqual(Array.from({ length: 6 }, () => ['keyPartition', 'addRequest']).flat());
    expect(w.lines).toStrictEqual([]);
    expect(w.partition().requests).toStrictEqual([]);
  });

  it('wait a random 5 to 25 ms after the first, growing by up to 20 ms with each', async () => {
    vi.useFakeTimers();
    try {
      vi.spyOn(Math, 'random').mockReturnValue(0.5);
      const w = world();
      w.enrolled();
      w.writeFailures.push(new ConcurrencyConflictError('changed'), new ConcurrencyConflictError('changed'));
      const reads = () => w.steps().filter((s) => s === 'keyPartition').length;
      const done = w.enrol();
      await vi.advanceTimersByTimeAsync(14);
      expect(reads()).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(reads()).toBe(2);
      await vi.advanceTimersByTimeAsync(24);
      expect(reads()).toBe(2);
      await vi.advanceTimersByTimeAsync(1);
      expect(reads()).toBe(3);
      expect((await done).status).toBe(202);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('storage failing', () => {
  it('fails the enrolment at the read, writing nothing', async () => {
    const w = world();
    w.readFailures.push(new StorageUnavailableError('Table Storage is unavailable (reading keys): busy'));
    await expect(w.enrol()).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(w.steps()).toStrictEqual(['keyPartition']);
  });

  it('fails a request at once when it cannot be filed, recording nothing', async () => {
    const w = world();
    w.enrolled();
    w.writeFailures.push(new RestError('unavailable', { statusCode: 503 }));
    await expect(w.enrol()).rejects.toThrow('unavailable');
    expect(w.steps()).toStrictEqual(['keyPartition', 'addRequest']);
    expect(w.lines).toStrictEqual([]);
    expect(w.partition().requests).toStrictEqual([]);
  });

  it('fails a key at once when it cannot be issued, the current key left', async () => {
    const w = world();
    w.enrolled();
    w.writeFailures.push(new RestError('unavailable', { statusCode: 503 }));
    await expect(w.enrol({ currentKey: KEY })).rejects.toThrow('unavailable');
    expect(w.steps()).toStrictEqual(['keyPartition', 'issue']);
    expect(w.partition().head?.currentKeyId).toBe(KEY_ID);
  });
});

describe('the proofs the enrolment rate limit asks for', () => {
  const proves = (w: World, proofs: EnrolmentProofs) => w.reenrolment.proves(SERVER, proofs);

  it('are none without a proof, read from nothing', async () => {
    const w = world();
    expect(await proves(w, {})).toBeUndefined();
    expect(w.calls).toStrictEqual([]);
  });

  it('name the collector for its current key, read once', async () => {
    const w = world();
    w.enrolled();
    expect(await proves(w, { currentKey: KEY, claim: claimOf('rq1'), request: REQ })).toBe('collector');
    expect(w.calls).toStrictEqual([['keyPartition', SERVER]]);
  });

  it('name the collector for its current key alone, and the request of a claim alone', async () => {
    const w = world();
    w.enrolled();
    w.change({ requests: [request('rq1')] });
    expect(await proves(w, { currentKey: KEY })).toBe('collector');
    expect(await proves(w, { claim: claimOf('rq1') })).toBe('request:rq1');
    expect(w.steps()).toStrictEqual(['keyPartition', 'keyPartition']);
  });

  it('are none for a claim of no request and no other proof, though decided requests keep secrets', async () => {
    const w = world();
    w.enrolled({ request: sealed(REQ2) });
    w.change({ requests: [request('rq1', { state: 'approved', ...sealed(REQ) })] });
    expect(await proves(w, { claim: claimOf('rq9') })).toBeUndefined();
    expect(w.steps()).toStrictEqual(['keyPartition']);
  });

  it('take the request secret of a server without a head as no proof, though a key row keeps it', async () => {
    const w = world();
    w.posted.add(SERVER);
    w.change({ rows: [keyRow(KEY_ID, KEY_SECRET, { request: sealed(REQ) })] });
    expect(await proves(w, { request: REQ })).toBeUndefined();
  });

  it('name the request a claim proves, whatever its decision, after a key that is not the current one', async () => {
    for (const state of ['pending', 'approved', 'denied'] as const) {
      const w = world();
      w.enrolled();
      w.change({ requests: [request('rq1', { state })] });
      expect(await proves(w, { currentKey: formatServerKey({ server: SERVER, keyId: KEY_ID, secret: 'A'.repeat(43) }), claim: claimOf('rq1') }), state).toBe('request:rq1');
    }
  });

  it('take a claim that is malformed, forged, of an unknown state, closed, expired or gone as no proof, and go on to the request secret', async () => {
    const cases: [string, string, Partial<KeyPartition>][] = [
      ['malformed', 'rq1', { requests: [request('rq1')] }],
      ['forged', claimOf('rq1', 'A'.repeat(43)), { requests: [request('rq1')] }],
      ['unknown state', claimOf('rq1'), { unknown: [request('rq1', { state: 'unknown', unknownState: 'x' })] }],
      ['closed', claimOf('rq1'), { replaced: [request('rq1', { state: 'replaced', replaced: { by: iso(NOW), reason: 'revoked' } })] }],
      ['expired', claimOf('rq1'), { requests: [request('rq1', { requestedAt: NOW - REQUEST_TTL_MS - 1 })] }],
      ['gone', claimOf('rq1'), {}],
    ];
    for (const [what, claim, over] of cases) {
      const w = world();
      w.enrolled();
      w.change(over);
      expect(await proves(w, { claim }), what).toBeUndefined();
      w.change({ requests: [...w.partition().requests, request('rq2', { state: 'approved', ...sealed(REQ) })] });
      expect(await proves(w, { claim, request: REQ }), what).toBe('request:rq2');
    }
  });

  it('name a decided request by its secret, and the collector for the secret of its current key', async () => {
    const w = world();
    w.enrolled({ request: sealed(REQ2) });
    w.change({ requests: [request('rq1', { state: 'denied', ...sealed(REQ) })] });
    expect(await proves(w, { request: REQ })).toBe('request:rq1');
    expect(await proves(w, { request: REQ2 })).toBe('collector');
    expect(w.calls).toStrictEqual([
      ['keyPartition', SERVER],
      ['keyPartition', SERVER],
      ['committedSince', SERVER, NOW - HOUR],
    ]);
  });

  it('take the secret of a pending request, of a key that posted, or one not well formed as no proof', async () => {
    const w = world();
    w.enrolled({ request: sealed(REQ2) });
    w.change({ requests: [request('rq1', sealed(REQ))] });
    expect(await proves(w, { request: REQ })).toBeUndefined();
    w.committed.push(true);
    expect(await proves(w, { request: REQ2 })).toBeUndefined();
    expect(await proves(w, { request: 'short' })).toBeUndefined();
    expect(w.steps()).toStrictEqual(['keyPartition', 'keyPartition', 'committedSince', 'keyPartition']);
  });

  it('take the secret of a key issued after now (a clock stepped back) as the collector', async () => {
    const w = world();
    w.enrolled({ request: sealed(REQ), issuedAt: NOW + MINUTE });
    expect(await proves(w, { request: REQ })).toBe('collector');
  });
});

describe('an admin deciding a request', () => {
  const decided = (over: Partial<EnrolmentRequest>, decidedNow = true) => ({ request: request('rq1', { decidedAt: NOW, ...over }), decidedNow });

  it('decides at the time of the clock within the week, records the decision and answers the request as it stands', async () => {
    for (const decision of ['approved', 'denied'] as const) {
      const w = world();
      w.at(NOW + MINUTE);
      w.decisions.push(decided({ state: decision }));
      expect(await w.reenrolment.decide(SERVER, 'rq1', decision, w.log)).toStrictEqual({
        server: SERVER,
        requestId: 'rq1',
        state: decision,
        requestedAt: iso(NOW - HOUR),
        decidedAt: iso(NOW),
        hostName: 'EXCH01',
        fqdn: SERVER,
        collector: 'Send-PostureSnapshot 1.2.0',
        source: '10.0.0.7',
      });
      expect(w.calls).toStrictEqual([['decideRequest', SERVER, 'rq1', decision, NOW + MINUTE, REQUEST_TTL_MS]]);
      expect(w.records()).toStrictEqual([['FleetPosture.ReenrolmentDecided', { server: SERVER, requestId: 'rq1', decision }]]);
    }
  });

  it('answers an earlier decision as it stands, recording nothing', async () => {
    const w = world();
    w.decisions.push(decided({ state: 'denied' }, false));
    expect(await w.reenrolment.decide(SERVER, 'rq1', 'approved', w.log)).toMatchObject({ state: 'denied' });
    expect(w.lines).toStrictEqual([]);
  });

  it('answers undefined for no such request, recording nothing', async () => {
    const w = world();
    expect(await w.reenrolment.decide(SERVER, 'rq1', 'approved', w.log)).toBeUndefined();
    expect(w.lines).toStrictEqual([]);
  });

  it('refuses a request in a state this version does not know (409), naming the decision', async () => {
    const w = world();
    w.decisions.push(decided({ state: 'unknown', unknownState: 'escalated' }));
    expect(await refusalOf(() => w.reenrolment.decide(SERVER, 'rq1', 'denied', w.log))).toStrictEqual([
      'unknown_request_state',
      `The re-enrolment request "rq1" of ${SERVER} is in the state "escalated", which this version of the service does not know, so it cannot be denied here and nothing was changed.`,
    ]);
    expect(w.lines).toStrictEqual([]);
  });

  it('refuses a request replaced before the decision took effect (409), saying by what and what to do', async () => {
    const why = {
      repeat: 'was replaced by the newer request "rq2" of the same requester before this decision took effect, so nothing was decided; decide on the newer one',
      limit: 'gave way to the newer request "rq2" (a server keeps at most 5 open requests) before this decision took effect, so nothing was decided; the requester can file a new request',
      key: 'was settled by the key "rq2" issued to the server before this decision took effect, so nothing was decided; the requester can file a new request',
      revoked: 'was closed when an admin revoked the keys of the server at rq2, before this decision took effect, so nothing was decided; the requester can file a new request',
    } as const;
    for (const reason of ['repeat', 'limit', 'key', 'revoked'] as const) {
      const w = world();
      w.decisions.push(decided({ state: 'replaced', replaced: { by: 'rq2', reason } }));
      expect(await refusalOf(() => w.reenrolment.decide(SERVER, 'rq1', 'approved', w.log)), reason).toStrictEqual(['request_replaced', `The re-enrolment request "rq1" of ${SERVER} ${why[reason]}.`]);
      expect(w.lines).toStrictEqual([]);
    }
  });
});

describe('the requests an admin lists', () => {
  it('are those of one state within the week, newest first, each as an admin sees it', async () => {
    const w = world();
    w.listed.push({
      requests: [
        request('rq1', { requestedAt: NOW - 2 * HOUR }),
        request('rq2', { requestedAt: NOW - REQUEST_TTL_MS - 1 }),
        request('rq3', { requestedAt: NOW - REQUEST_TTL_MS, server: OTHER, hostName: undefined, fqdn: undefined, collector: undefined, source: undefined }),
        request('rq4', { requestedAt: NOW - MINUTE }),
      ],
      truncated: true,
    });
    expect(await w.reenrolment.requests('pending')).toStrictEqual({
      items: [
        requestView(request('rq4', { requestedAt: NOW - MINUTE }), NOW),
        requestView(request('rq1', { requestedAt: NOW - 2 * HOUR }), NOW),
        { server: OTHER, requestId: 'rq3', state: 'pending', requestedAt: iso(NOW - REQUEST_TTL_MS), decidedAt: null, hostName: null, fqdn: null, collector: null, source: null },
      ],
      truncated: true,
    });
    expect(w.calls).toStrictEqual([['listRequests', 'pending', 5000]]);
    const other = world();
    expect(await other.reenrolment.requests('approved')).toStrictEqual({ items: [], truncated: false });
    expect(other.calls).toStrictEqual([['listRequests', 'approved', 5000]]);
  });

  it('show a request past its week as expired', () => {
    const r = request('rq1', { state: 'approved', decidedAt: NOW - DAY });
    expect(requestView(r, NOW - HOUR + REQUEST_TTL_MS)).toMatchObject({ state: 'approved', decidedAt: iso(NOW - DAY) });
    expect(requestView(r, NOW - HOUR + REQUEST_TTL_MS + 1)).toMatchObject({ state: 'expired' });
  });
});

describe('the servers refused or never heard from', () => {
  const head = (over: object = {}) => ({ currentKeyId: KEY_ID, blocked: false, updatedAt: NOW - DAY, etag: 'h', ...over });

  it('name every reason an admin must look at a server, sorted by server, with the live requests', async () => {
    const w = world();
    w.attention.push({
      servers: [
        { server: 'e', requests: [], refusal: { server: 'e', keyId: KEY_ID, reason: 'revoked', refusedAt: NOW - MINUTE } },
        { server: 'c', head: head({ currentKeyId: '' }), requests: [] },
        { server: 'a', head: head({ blocked: true }), requests: [request('rq1', { server: 'a', state: 'denied', requestedAt: NOW - REQUEST_TTL_MS }), request('rq2', { server: 'a', requestedAt: NOW - REQUEST_TTL_MS - 1 })] },
        { server: 'b', requests: [request('rq3', { server: 'b' })] },
        { server: 'd', head: head(), requests: [request('rq4', { server: 'd', state: 'approved' })] },
        { server: 'h', requests: [request('rq5', { server: 'h', requestedAt: NOW - REQUEST_TTL_MS - 1 })] },
      ],
      truncated: false,
    });
    w.awaiting.push({ servers: [{ server: 'f', issuedAt: NOW - 3 * HOUR }, { server: 'd', issuedAt: NOW - 5 * HOUR }, { server: 'g', issuedAt: NOW - 4 * HOUR }], truncated: false });
    w.posted.add('g');
    const none = { keyRevokedAt: null, keyIssuedAt: null, lastRefusal: null, requests: [] };
    expect(await w.reenrolment.refusedServers()).toStrictEqual({
      items: [
        { server: 'a', reasons: ['enrolment-blocked', 'enrolment-denied'], ...none, requests: [requestView(request('rq1', { server: 'a', state: 'denied', requestedAt: NOW - REQUEST_TTL_MS }), NOW)] },
        { server: 'b', reasons: ['approval-pending'], ...none, requests: [requestView(request('rq3', { server: 'b' }), NOW)] },
        { server: 'c', reasons: ['no-active-key'], ...none, keyRevokedAt: iso(NOW - DAY) },
        { server: 'd', reasons: ['never-posted'], ...none, keyIssuedAt: iso(NOW - 5 * HOUR), requests: [requestView(request('rq4', { server: 'd', state: 'approved' }), NOW)] },
        { server: 'e', reasons: ['key-revoked'], ...none, lastRefusal: { at: iso(NOW - MINUTE), reason: 'revoked', keyId: KEY_ID } },
        { server: 'f', reasons: ['never-posted'], ...none, keyIssuedAt: iso(NOW - 3 * HOUR) },
      ],
      truncated: false,
    });
    expect(w.calls).toStrictEqual([
      ['listAttention', 5000],
      ['keysAwaitingFirstPost', NOW - 2 * HOUR, undefined, 10_000],
      ['hasPosted', 'f'],
      ['hasPosted', 'd'],
      ['hasPosted', 'g'],
    ]);
  });

  it('say the list was cut when either listing was', async () => {
    for (const [a, b] of [
      [true, false],
      [false, true],
    ]) {
      const w = world();
      w.attention.push({ servers: [], truncated: a! });
      w.awaiting.push({ servers: [], truncated: b! });
      expect(await w.reenrolment.refusedServers()).toStrictEqual({ items: [], truncated: true });
    }
    expect(await world().reenrolment.refusedServers()).toStrictEqual({ items: [], truncated: false });
  });

  it('list for readers the servers given a key that never posted, without marking any', async () => {
    const w = world();
    w.awaiting.push({ servers: [{ server: 'f', issuedAt: NOW - 3 * HOUR }, { server: 'g', issuedAt: NOW - 4 * HOUR, unmarked: 'e1' }], truncated: true });
    w.posted.add('g');
    expect(await w.reenrolment.neverPostedServers()).toStrictEqual({ items: [{ server: 'f', keyIssuedAt: iso(NOW - 3 * HOUR) }], truncated: true });
    expect(w.steps()).toStrictEqual(['keysAwaitingFirstPost', 'hasPosted', 'hasPosted']);
  });

  it('are logged by the timer one record each, marking those found to have posted and those without a mark', async () => {
    const w = world();
    w.awaiting.push({ servers: [{ server: 'f', issuedAt: NOW - 3 * HOUR, unmarked: 'etag-f' }, { server: 'g', issuedAt: NOW - 4 * HOUR }, { server: 'h', issuedAt: NOW - 5 * HOUR }], truncated: true });
    w.posted.add('g');
    expect(await w.reenrolment.logNeverPosted(w.log)).toStrictEqual({ neverPosted: 2, neverPostedAtLeast: true });
    expect(w.calls).toStrictEqual([
      ['keysAwaitingFirstPost', NOW - 2 * HOUR, NOW - 30 * DAY, 10_000],
      ['hasPosted', 'f'],
      ['hasPosted', 'g'],
      ['hasPosted', 'h'],
      ['markPosted', 'g'],
      ['markNotPosted', 'f', 'etag-f'],
    ]);
    expect(w.records()).toStrictEqual([
      ['FleetPosture.ServerNeverPosted', { server: 'f', keyIssuedAt: iso(NOW - 3 * HOUR) }],
      ['FleetPosture.ServerNeverPosted', { server: 'h', keyIssuedAt: iso(NOW - 5 * HOUR) }],
    ]);
    const quiet = world();
    expect(await quiet.reenrolment.logNeverPosted(quiet.log)).toStrictEqual({ neverPosted: 0, neverPostedAtLeast: false });
    expect(quiet.lines).toStrictEqual([]);
  });
});
