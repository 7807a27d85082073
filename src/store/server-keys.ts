// The ServerKeys table: per-server credentials issued by enrolment, stored only as a salted hash.
// PartitionKey = server id (encoded), so every change of one server's keys is one entity-group
// transaction: RowKey = key id for each key issued (active or revoked; the newest few revoked are
// kept so an old key's holder learns why it is refused), plus the special rows of key-partition.ts
// ('~head', whose ETag serialises concurrent enrolments of the same server, so there is exactly
// one active key at any time; re-enrolment requests; the last refusal of a revoked key).
import { odata, RestError, TableTransaction, type TableClient, type TransactionAction } from '@azure/data-tables';
import { createTableClients, RoundTripCounter, type TableClientFactoryOptions } from './client';
import { dateTime, ms, str } from './columns';
import { backOff } from './contention';
import { ConcurrencyConflictError, guard, statusCodeOf } from './errors';
import {
  entityToHead,
  entityToRefusal,
  entityToRequest,
  HEAD_ROW,
  isInForce,
  isKeyRow,
  isRefusal,
  keyPartitionOf,
  REFUSED_ROW,
  REFUSAL_CLEARED,
  refusalClearedMark,
  refusalToEntity,
  replacedMark,
  REQUEST_PREFIX,
  requestToEntity,
  type EnrolmentRequest,
  type KeyHead,
  type KeyPartition,
  type KeyRefusal,
  type RequestDecision,
  type RequestState,
  type Row,
} from './key-partition';
import { and, odataDate } from './filters';
import { encodeKey, prefixRange } from './keys';

export type ServerKeyStatus = 'active' | 'revoked';

/** A server whose active key awaits its first post; `unmarked`: its head lacks the column, read at that ETag. */
export interface AwaitingKey {
  readonly server: string;
  readonly issuedAt: number;
  readonly unmarked?: string;
}

export interface ServerKeyRecord {
  readonly server: string;
  readonly keyId: string;
  /** base64 salt and HMAC-SHA256(salt, secret); the secret itself is never stored. */
  readonly salt: string;
  readonly hash: string;
  readonly status: ServerKeyStatus;
  readonly issuedAt: number;
  /** 'enrolment', 're-enrolment' or 'admin-rotation'. */
  readonly issuedBy: string;
  readonly revokedAt?: number;
  /** 'replaced' (a newer key was issued) or 'revoked' (an admin revoked it). */
  readonly revokedReason?: string;
  readonly hostName?: string;
  readonly fqdn?: string;
  /**
   * An enrolment's request secret (x-enrolment-request), as base64 salt and HMAC: the proof
   * that a resend of that enrolment, whose answer was lost, comes from the same caller.
   */
  readonly requestSalt?: string;
  readonly requestHash?: string;
  /** When that enrolment issued its first key: a resend of it is honoured for a bounded time from then, not from the latest resend. */
  readonly requestAt?: number;
}

const HEAD = HEAD_ROW;
/** The row key just past every request row ('.' + 1 is '/'). */
const REQUEST_RANGE_END = REQUEST_PREFIX.slice(0, -1) + '/';
/** Revoked keys kept per server, so their holders' refusals can be recorded (older ones are "unknown"). */
const KEEP_REVOKED = 5;
const ATTEMPTS = 6;
/** Open re-enrolment requests kept per server; the oldest not approved goes when another arrives. */
export const MAX_REQUESTS_PER_SERVER = 5;

/** A server that needs an admin's look, as the special rows of its partition say. */
export interface KeyAttention {
  readonly server: string;
  /** Present when the server has no active key, or an admin blocked its enrolment. */
  readonly head?: KeyHead;
  readonly requests: readonly EnrolmentRequest[];
  readonly refusal?: KeyRefusal;
}

function toEntity(r: ServerKeyRecord) {
  return {
    partitionKey: encodeKey(r.server),
    rowKey: r.keyId,
    Server: r.server,
    KeyId: r.keyId,
    Salt: r.salt,
    Hash: r.hash,
    Status: r.status,
    IssuedAt: dateTime(r.issuedAt),
    IssuedBy: r.issuedBy,
    RevokedReason: r.revokedReason ?? '',
    HostName: r.hostName ?? '',
    Fqdn: r.fqdn ?? '',
    ...(r.revokedAt === undefined ? {} : { RevokedAt: dateTime(r.revokedAt) }),
    ...(r.requestHash === undefined ? {} : { RequestSalt: r.requestSalt ?? '', RequestHash: r.requestHash, RequestAt: dateTime(r.requestAt ?? r.issuedAt) }),
  };
}

/** A key row as read (also one of a partition read with keyPartition). */
export function keyRecordOf(e: Row): ServerKeyRecord {
  const status = str(e, 'Status') === 'active' ? 'active' : 'revoked';
  return {
    server: str(e, 'Server'),
    keyId: str(e, 'KeyId'),
    salt: str(e, 'Salt'),
    hash: str(e, 'Hash'),
    status,
    issuedAt: ms(e, 'IssuedAt') ?? 0,
    issuedBy: str(e, 'IssuedBy'),
    revokedAt: ms(e, 'RevokedAt'),
    revokedReason: str(e, 'RevokedReason') || undefined,
    hostName: str(e, 'HostName') || undefined,
    fqdn: str(e, 'Fqdn') || undefined,
    requestSalt: str(e, 'RequestSalt') || undefined,
    requestHash: str(e, 'RequestHash') || undefined,
    requestAt: ms(e, 'RequestAt'),
  };
}

export class ServerKeyStore {
  readonly counter: RoundTripCounter;
  readonly #t: TableClient;
  #ready: Promise<void> | undefined;

  constructor(options: TableClientFactoryOptions) {
    // Its own counter: key checks are counted apart from the ingest's storage round trips.
    this.counter = new RoundTripCounter();
    this.#t = createTableClients({ ...options, counter: this.counter }).serverKeys;
  }

  ensureTable(): Promise<void> {
    this.#ready ??= guard('creating the ServerKeys table', async () => {
      await this.#t.createTable();
    }).catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  /** One point read: the key row, or undefined. */
  async getKey(server: string, keyId: string): Promise<ServerKeyRecord | undefined> {
    await this.ensureTable();
    try {
      const e = await guard('reading a server key', () => this.#t.getEntity(encodeKey(server), keyId));
      return keyRecordOf(e);
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  /** Every key row of a server (special rows excluded), newest first. */
  async listKeys(server: string): Promise<ServerKeyRecord[]> {
    const rows = await this.#partition(server);
    return rows.filter(isKeyRow).map(keyRecordOf).sort((a, b) => b.issuedAt - a.issuedAt);
  }

  /** The server's whole partition, read once: head, keys, requests and last refusal. */
  async keyPartition(server: string): Promise<KeyPartition> {
    return keyPartitionOf(server, await this.#partition(server));
  }

  /**
   * Makes `record` (status active) the server's only active key, in one transaction that also
   * marks every other active key revoked ('replaced') and settles the server's re-enrolment
   * requests and clears its refusal record (a new key answers them; see #settleRequests). Returns the key
   * ids it replaced and the ids of the requests it settled, or `blocked` when an admin blocked
   * re-enrolment and `overrideBlock` is not set (admin rotation sets it, and clears the block). With `basis`, the partition the caller decided on: the
   * transaction then requires its head unchanged (by ETag) and a change throws
   * ConcurrencyConflictError for the caller to decide again; without, it retries by itself.
   */
  async issue(
    record: ServerKeyRecord,
    options: { overrideBlock?: boolean; basis?: KeyPartition } = {},
  ): Promise<{ replaced: string[]; settled: string[]; enrolledBefore: boolean } | { blocked: true }> {
    await this.ensureTable();
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const rows = options.basis?.rows ?? (await this.#partition(record.server));
      const head = rows.find((r) => r.rowKey === HEAD);
      const enrolledBefore = head !== undefined;
      if (head?.ReenrolBlocked === true && !options.overrideBlock) return { blocked: true };
      const tx = new TableTransaction();
      tx.createEntity(toEntity(record));
      const replaced = this.#revokeRows(tx, rows, record.issuedAt, 'replaced');
      const settled = this.#settleRequests(tx, rows, record.keyId, 'key');
      // The new key answers the last refusal: marked cleared under the ETag it was read with, so a
      // refusal recorded meanwhile fails this transaction (and is decided on again) instead of
      // vanishing with the row. A row cleared before is left as it is: nothing here rewrites it.
      const refused = rows.find((r) => r.rowKey === REFUSED_ROW);
      if (refused && isRefusal(refused)) tx.updateEntity(refusalClearedMark(record.server, record.keyId), 'Merge', { etag: String(refused.etag) });
      this.#putHead(tx, rows, record.server, record.keyId, record.issuedAt, false);
      try {
        await this.#submit(tx.actions, 'issuing a server key');
        return { replaced, settled, enrolledBefore };
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        // A transaction whose answer was lost (a 503 or a timeout) and that landed is refused when
        // retried: the head naming this key says it landed, and the key is the caller's to hand out.
        const after = (await this.#partition(record.server)).find((r) => r.rowKey === HEAD);
        if (after?.CurrentKeyId === record.keyId) return { replaced, settled, enrolledBefore };
        if (options.basis) throw error;
        await backOff(attempt, 20);
      }
    }
    throw new ConcurrencyConflictError(`Keys of ${record.server} stayed contended.`);
  }

  /**
   * Adds a re-enrolment request in place of the requests in `replaces` (of the same partition);
   * beyond MAX_REQUESTS_PER_SERVER open ones, the oldest not approved goes (an approved one waits
   * only for its requester; it goes last). A request it takes the place of is marked replaced
   * under the ETag `basis` read it with, not deleted: the SDK's delete in a transaction sends no
   * ETag, and an admin's decision landing meanwhile must fail this transaction
   * (ConcurrencyConflictError, for the caller to decide again) rather than vanish with the row.
   * Rows marked replaced by an earlier request are deleted here; nothing changes them any more.
   */
  async addRequest(request: EnrolmentRequest, basis: KeyPartition, replaces: readonly EnrolmentRequest[] = []): Promise<void> {
    const tx = new TableTransaction();
    tx.createEntity(requestToEntity(request));
    const repeats = new Set(replaces.map((r) => r.requestId));
    // A request in a state this version does not know counts, and gives way, like a decided one.
    const open = [...basis.requests, ...basis.unknown];
    const kept = open.filter((r) => !repeats.has(r.requestId));
    const keptFirst = (a: EnrolmentRequest, b: EnrolmentRequest) => Number(b.state === 'approved') - Number(a.state === 'approved') || b.requestedAt - a.requestedAt;
    const overLimit = new Set([...kept].sort(keptFirst).slice(MAX_REQUESTS_PER_SERVER - 1).map((r) => r.requestId));
    for (const r of open) {
      const reason = repeats.has(r.requestId) ? 'repeat' : overLimit.has(r.requestId) ? 'limit' : undefined;
      if (reason) tx.updateEntity(replacedMark(r, request.requestId, reason), 'Merge', { etag: String(r.etag) });
    }
    for (const r of basis.replaced) tx.deleteEntity(encodeKey(r.server), REQUEST_PREFIX + r.requestId);
    try {
      await this.#submit(tx.actions, 'recording a re-enrolment request');
    } catch (error) {
      // A transaction whose answer was lost after it landed is refused when retried: the row of this
      // request (its id is new, so no one else writes it) says it landed.
      if (!(error instanceof ConcurrencyConflictError) || !(await this.getRequest(request.server, request.requestId))) throw error;
    }
  }

  /** One request, or undefined. */
  async getRequest(server: string, requestId: string): Promise<EnrolmentRequest | undefined> {
    const e = await this.#get(server, REQUEST_PREFIX + requestId);
    return e ? entityToRequest(e) : undefined;
  }

  /**
   * Approves or denies a pending request (ETag-guarded): the request as it stands after, and whether
   * this call decided it (a request decided or replaced before, or in a state this version does not
   * know, keeps that state); undefined when there is none.
   */
  async decideRequest(
    server: string,
    requestId: string,
    decision: RequestDecision,
    at: number,
    openFor: number,
  ): Promise<{ request: EnrolmentRequest; decidedNow: boolean } | undefined> {
    let tried = false;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const current = await this.getRequest(server, requestId);
      if (!current) return undefined;
      // This call's own decision, whose answer was lost after it landed (retried into a 412).
      if (tried && current.state === decision && current.decidedAt === at) return { request: current, decidedNow: true };
      // A request past its time is no longer open to a decision: it stays as it was.
      if (current.state !== 'pending' || at - current.requestedAt > openFor) return { request: current, decidedNow: false };
      const next: EnrolmentRequest = { ...current, state: decision, decidedAt: at };
      try {
        await guard('deciding a re-enrolment request', () => this.#t.updateEntity(requestToEntity(next), 'Replace', { etag: current.etag ?? '*' }));
        return { request: next, decidedNow: true };
      } catch (error) {
        const status = statusCodeOf(error);
        if (status !== 412 && status !== 404) throw error;
        tried = true;
      }
    }
    throw new ConcurrencyConflictError(`The request ${requestId} of ${server} stayed contended.`);
  }

  /** Records that a genuine but revoked key of the server was refused (one row per server, the latest). */
  async recordRefusal(refusal: KeyRefusal): Promise<void> {
    await this.ensureTable();
    await guard('recording a refused key', () => this.#t.upsertEntity(refusalToEntity(refusal), 'Replace'));
  }

  /**
   * Servers with an active key issued at or before `to` that are not known to have posted, oldest
   * key first: at most `max` (the first in the table's order), `truncated` when more were. Heads
   * marked `Posted` false, whenever their key was issued; with `unmarkedFrom`, a second query adds
   * the heads written before that column existed, which say nothing of posting, for keys issued
   * from then on, each with the ETag it was read at (`unmarked`), so that the column can be given
   * to it unless it changed since. A head missing the column is never compared with it (the table
   * would count that a mismatch), so that query reads every head of its span.
   */
  async keysAwaitingFirstPost(to: number, unmarkedFrom: number | undefined, max: number): Promise<{ servers: AwaitingKey[]; truncated: boolean }> {
    await this.ensureTable();
    const active = odata`RowKey eq ${HEAD} and CurrentKeyId ne ${''}`;
    const marked = and(active, `Posted eq false and UpdatedAt le ${odataDate(to)}`);
    const queries = [{ filter: marked, unmarked: false }];
    if (unmarkedFrom !== undefined) queries.push({ filter: and(active, `UpdatedAt ge ${odataDate(unmarkedFrom)} and UpdatedAt le ${odataDate(to)}`), unmarked: true });
    return guard('listing servers that have not posted', async () => {
      const byServer = new Map<string, AwaitingKey>();
      let truncated = false;
      for (const { filter, unmarked } of queries) {
        for await (const e of this.#t.listEntities({ queryOptions: { filter, select: ['Server', 'UpdatedAt', 'Posted'] } })) {
          // A property asked for and missing may come back null rather than absent.
          if (unmarked && typeof e.Posted === 'boolean') continue;
          if (byServer.size >= max) {
            truncated = true;
            break;
          }
          const server = str(e, 'Server');
          byServer.set(server, { server, issuedAt: ms(e, 'UpdatedAt') ?? 0, ...(unmarked ? { unmarked: String(e.etag) } : {}) });
        }
      }
      const servers = [...byServer.values()].sort((a, b) => a.issuedAt - b.issuedAt);
      return { servers, truncated };
    });
  }

  /**
   * Gives a head written before heads said whether the server posted the column, `Posted` false,
   * if it is still as read at `etag` (a key change meanwhile wrote a head that says, and a mark
   * made meanwhile must not be undone); a head changed or gone is left as it is.
   */
  async markNotPosted(server: string, etag: string): Promise<void> {
    await this.ensureTable();
    try {
      await guard('marking a server not posted', () => this.#t.updateEntity({ partitionKey: encodeKey(server), rowKey: HEAD, Posted: false }, 'Merge', { etag }));
    } catch (error) {
      if (!(error instanceof RestError && (error.statusCode === 412 || error.statusCode === 404))) throw error;
    }
  }

  /**
   * Marks the server's head `Posted`: a snapshot of it is stored, which never stops being so (a
   * removal leaves its markers). A merge of that column alone, whatever the head's ETag: a key
   * issued meanwhile replaced the head it read and fails on its ETag, and reads the mark when it
   * tries again. A server removed meanwhile has no head, and gets none.
   */
  async markPosted(server: string): Promise<void> {
    await this.ensureTable();
    try {
      await guard('marking a server posted', () => this.#t.updateEntity({ partitionKey: encodeKey(server), rowKey: HEAD, Posted: true }, 'Merge', { etag: '*' }));
    } catch (error) {
      if (!(error instanceof RestError && error.statusCode === 404)) throw error;
    }
  }

  /**
   * Servers whose partition asks for attention: no active key, enrolment blocked, re-enrolment
   * requests, or a refused revoked key. One query over the special rows only, at most `max` rows:
   * the table filters out key rows, the heads of servers in good standing, requests marked
   * replaced and refusals a new key cleared, so none of those spends the limit. (State and Reason
   * are written on every request and refusal row, so the comparisons never meet a missing column,
   * which the table would count as a mismatch.)
   */
  async listAttention(max: number): Promise<{ servers: KeyAttention[]; truncated: boolean }> {
    await this.ensureTable();
    const filter =
      odata`(RowKey eq ${HEAD} and (CurrentKeyId eq ${''} or ReenrolBlocked eq ${true}))` +
      odata` or (RowKey eq ${REFUSED_ROW} and Reason ne ${REFUSAL_CLEARED})` +
      odata` or (RowKey ge ${REQUEST_PREFIX} and RowKey lt ${REQUEST_RANGE_END} and State ne ${'replaced'})`;
    return guard('listing servers that need attention', async () => {
      const byServer = new Map<string, { head?: KeyHead; requests: EnrolmentRequest[]; refusal?: KeyRefusal }>();
      let rows = 0;
      let truncated = false;
      for await (const e of this.#t.listEntities({ queryOptions: { filter } })) {
        if (rows++ >= max) {
          truncated = true;
          break;
        }
        const server = str(e, 'Server');
        const entry = byServer.get(server) ?? { requests: [] };
        byServer.set(server, entry);
        const rk = String(e.rowKey);
        if (rk === HEAD) entry.head = entityToHead(e);
        else if (rk === REFUSED_ROW) entry.refusal = isRefusal(e) ? entityToRefusal(e) : undefined;
        else if (rk.startsWith(REQUEST_PREFIX)) {
          const request = entityToRequest(e);
          if (isInForce(request)) entry.requests.push(request);
        }
      }
      return { servers: [...byServer].map(([server, v]) => ({ server, ...v })), truncated };
    });
  }

  /**
   * Enrolled servers (a head row) whose id begins with `prefix`, at most `max`, sorted: the same
   * lookup as the Results table's, for servers that enrolled but have not posted yet.
   */
  async serversWithPrefix(prefix: string, max: number): Promise<string[]> {
    await this.ensureTable();
    const { from, to } = prefixRange(prefix);
    const filter = odata`PartitionKey ge ${from} and PartitionKey lt ${to} and RowKey eq ${HEAD}`;
    return guard('finding enrolled servers', async () => {
      const found: string[] = [];
      for await (const e of this.#t.listEntities({ queryOptions: { filter, select: ['Server'] } })) {
        found.push(str(e, 'Server'));
        if (found.length >= max) break;
      }
      return found.sort();
    });
  }

  /** Whether `id` is the id of an enrolled server (it has a head row): one point read. */
  async hasServer(id: string): Promise<boolean> {
    await this.ensureTable();
    try {
      await guard('finding an enrolled server', () => this.#t.getEntity(encodeKey(id), HEAD, { queryOptions: { select: ['RowKey'] } }));
      return true;
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return false;
      throw error;
    }
  }

  /** Re-enrolment requests of the whole fleet in `state`, at most `max`. */
  async listRequests(state: Exclude<RequestState, 'replaced'>, max: number): Promise<{ requests: EnrolmentRequest[]; truncated: boolean }> {
    await this.ensureTable();
    const filter = odata`RowKey ge ${REQUEST_PREFIX} and RowKey lt ${REQUEST_RANGE_END} and State eq ${state}`;
    return guard('listing re-enrolment requests', async () => {
      const requests: EnrolmentRequest[] = [];
      for await (const e of this.#t.listEntities({ queryOptions: { filter } })) {
        if (requests.length >= max) return { requests, truncated: true };
        requests.push(entityToRequest(e));
      }
      return { requests, truncated: false };
    });
  }

  async #get(server: string, rowKey: string): Promise<Row | undefined> {
    await this.ensureTable();
    try {
      return await guard('reading server keys', () => this.#t.getEntity(encodeKey(server), rowKey));
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  /**
   * Revokes every active key of a server and closes its re-enrolment requests (pending or approved,
   * not collected: an approved one must not yield a key after the revocation), in one transaction
   * under the ETags read; with `block`, enrolment of this server is refused until an admin rotates
   * its key. A decision landing meanwhile fails the transaction, which is decided again on fresh
   * rows (and so closes the decided request too). Returns the key ids revoked and the request ids
   * closed; undefined when the server never enrolled (no head row and no requests).
   */
  async revokeAll(server: string, at: number, block = false): Promise<{ revoked: string[]; settled: string[] } | undefined> {
    await this.ensureTable();
    let tried: { revoked: string[]; settled: string[] } | undefined;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const rows = await this.#partition(server);
      // The last attempt's answer was lost after it landed: the head carries this revocation's time.
      const head = rows.find((r) => r.rowKey === HEAD);
      if (tried && head?.CurrentKeyId === '' && ms(head, 'UpdatedAt') === at) return tried;
      const requests = rows.some((r) => String(r.rowKey).startsWith(REQUEST_PREFIX));
      if (!rows.some((r) => r.rowKey === HEAD) && !requests) return undefined;
      const tx = new TableTransaction();
      const revoked = this.#revokeRows(tx, rows, at, 'revoked');
      const settled = this.#settleRequests(tx, rows, new Date(at).toISOString(), 'revoked');
      this.#putHead(tx, rows, server, '', at, block);
      try {
        await this.#submit(tx.actions, 'revoking a server key');
        return { revoked, settled };
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        tried = { revoked, settled };
      }
    }
    throw new ConcurrencyConflictError(`Keys of ${server} stayed contended.`);
  }

  async #partition(server: string): Promise<Row[]> {
    await this.ensureTable();
    const pk = encodeKey(server);
    return guard('reading server keys', async () => {
      const out: Row[] = [];
      for await (const e of this.#t.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${pk}` } })) out.push(e);
      return out;
    });
  }

  /** Adds to `tx`: active keys → revoked (ETag-guarded); revoked keys beyond the kept few → deleted. */
  #revokeRows(tx: TableTransaction, rows: readonly Row[], at: number, reason: string): string[] {
    const keys = rows.filter(isKeyRow);
    const active = keys.filter((r) => str(r, 'Status') === 'active');
    for (const r of active) {
      tx.updateEntity(
        { partitionKey: String(r.partitionKey), rowKey: String(r.rowKey), Status: 'revoked', RevokedAt: dateTime(at), RevokedReason: reason },
        'Merge',
        { etag: String(r.etag) },
      );
    }
    const oldRevoked = keys
      .filter((r) => str(r, 'Status') !== 'active')
      .sort((a, b) => (ms(b, 'IssuedAt') ?? 0) - (ms(a, 'IssuedAt') ?? 0))
      .slice(Math.max(0, KEEP_REVOKED - active.length));
    for (const r of oldRevoked) tx.deleteEntity(String(r.partitionKey), String(r.rowKey));
    return active.map((r) => String(r.rowKey));
  }

  /**
   * Adds to `tx`: the server's requests settled by the new key `by` (reason 'key') or closed by a
   * revocation at `by` (reason 'revoked'). Each one not yet replaced is marked replaced under the
   * ETag it was read with, not deleted: the SDK's delete in a transaction sends no ETag, and an
   * admin's decision landing meanwhile must fail this transaction (for the caller to decide again
   * on what is there now) rather than vanish with the row. Rows already marked replaced are
   * deleted, except those a revocation closed while no key replaced it: their claim still learns
   * why it yields nothing. Returns the ids of the requests it marks.
   */
  #settleRequests(tx: TableTransaction, rows: readonly Row[], by: string, reason: 'key' | 'revoked'): string[] {
    const settled: string[] = [];
    for (const row of rows) {
      if (!String(row.rowKey).startsWith(REQUEST_PREFIX)) continue;
      const request = entityToRequest(row);
      if (request.state === 'replaced') {
        if (reason === 'key' || request.replaced?.reason !== 'revoked') tx.deleteEntity(String(row.partitionKey), String(row.rowKey));
      } else {
        tx.updateEntity(replacedMark(request, by, reason), 'Merge', { etag: String(row.etag) });
        settled.push(request.requestId);
      }
    }
    return settled;
  }

  #putHead(tx: TableTransaction, rows: readonly Row[], server: string, currentKeyId: string, at: number, blocked: boolean): void {
    const head = rows.find((r) => r.rowKey === HEAD);
    // Whether the server has posted carries over; a head this version writes always says, so the
    // listing of servers awaiting their first post need not look at a head that lacks the column.
    const entity = { partitionKey: encodeKey(server), rowKey: HEAD, Server: server, CurrentKeyId: currentKeyId, UpdatedAt: dateTime(at), ReenrolBlocked: blocked, Posted: head?.Posted === true };
    if (head) tx.updateEntity(entity, 'Replace', { etag: String(head.etag) });
    else tx.createEntity(entity);
  }

  async #submit(actions: TransactionAction[], what: string): Promise<void> {
    try {
      await guard(what, () => this.#t.submitTransaction(actions));
    } catch (error) {
      const status = statusCodeOf(error);
      if (status === 409 || status === 412 || status === 404) throw new ConcurrencyConflictError(`Another writer changed the keys while ${what}.`, { cause: error });
      throw error;
    }
  }
}
