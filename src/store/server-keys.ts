// The ServerKeys table: per-server credentials issued by enrolment, stored only as a salted hash.
// PartitionKey = server id (encoded), so every change of one server's keys is one entity-group
// transaction: RowKey = key id for each key issued (active or revoked; the newest few revoked are
// kept so an old key is answered "revoked", not "unknown"), plus one '~head' row whose ETag
// serialises concurrent enrolments of the same server (exactly one active key at any time).
import { odata, RestError, TableTransaction, type TableClient, type TransactionAction } from '@azure/data-tables';
import { createTableClients, RoundTripCounter, type TableClientFactoryOptions } from './client';
import { dateTime, ms, str } from './columns';
import { ConcurrencyConflictError, guard, statusCodeOf } from './errors';
import { encodeKey } from './keys';

export type ServerKeyStatus = 'active' | 'revoked';

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
}

const HEAD = '~head';
/** Revoked keys kept per server, so their holders get "key_revoked" (and re-enrol). */
const KEEP_REVOKED = 5;
const ATTEMPTS = 6;

type Row = Record<string, unknown>;

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
  };
}

function fromEntity(e: Row): ServerKeyRecord {
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
      return fromEntity(e);
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  /** Every key row of a server (head row excluded), newest first. */
  async listKeys(server: string): Promise<ServerKeyRecord[]> {
    const rows = await this.#partition(server);
    return rows.filter((r) => r.rowKey !== HEAD).map(fromEntity).sort((a, b) => b.issuedAt - a.issuedAt);
  }

  /**
   * Makes `record` (status active) the server's only active key, in one transaction that also
   * marks every other active key revoked ('replaced'). Returns the key ids it replaced, or
   * `blocked` when an admin blocked re-enrolment and `overrideBlock` is not set (admin rotation
   * sets it, and clears the block).
   */
  async issue(record: ServerKeyRecord, overrideBlock = false): Promise<{ replaced: string[] } | { blocked: true }> {
    await this.ensureTable();
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const rows = await this.#partition(record.server);
      const head = rows.find((r) => r.rowKey === HEAD);
      if (head?.ReenrolBlocked === true && !overrideBlock) return { blocked: true };
      const tx = new TableTransaction();
      tx.createEntity(toEntity(record));
      const replaced = this.#revokeRows(tx, rows, record.issuedAt, 'replaced');
      this.#putHead(tx, rows, record.server, record.keyId, record.issuedAt, false);
      try {
        await this.#submit(tx.actions, 'issuing a server key');
        return { replaced };
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (attempt + 1)));
      }
    }
    throw new ConcurrencyConflictError(`Keys of ${record.server} stayed contended.`);
  }

  /**
   * Revokes every active key of a server; with `block`, enrolment of this server is refused until
   * an admin rotates its key. Undefined when the server never enrolled.
   */
  async revokeAll(server: string, at: number, block = false): Promise<{ revoked: string[] } | undefined> {
    await this.ensureTable();
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const rows = await this.#partition(server);
      if (!rows.some((r) => r.rowKey === HEAD)) return undefined;
      const tx = new TableTransaction();
      const revoked = this.#revokeRows(tx, rows, at, 'revoked');
      this.#putHead(tx, rows, server, '', at, block);
      try {
        await this.#submit(tx.actions, 'revoking a server key');
        return { revoked };
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
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
    const keys = rows.filter((r) => r.rowKey !== HEAD);
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

  #putHead(tx: TableTransaction, rows: readonly Row[], server: string, currentKeyId: string, at: number, blocked: boolean): void {
    const head = rows.find((r) => r.rowKey === HEAD);
    const entity = { partitionKey: encodeKey(server), rowKey: HEAD, Server: server, CurrentKeyId: currentKeyId, UpdatedAt: dateTime(at), ReenrolBlocked: blocked };
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
