// The Waivers table: PK 'waivers', RK waiver id. A waiver is never physically deleted: it ends
// (State expired or deleted) and stays for audit. The whole set is one partition, small by nature.
import { odata, RestError } from '@azure/data-tables';
import type { TableClients } from './client';
import { boundedText, dateTime, int32, ms, num, optStr, str } from './columns';
import { ConcurrencyConflictError, statusCodeOf } from './errors';
import { encodeKey } from './keys';
import type { PostureStore } from './posture-store';

export type WaiverState = 'active' | 'expired' | 'deleted';

export interface WaiverRecord {
  readonly id: string;
  readonly ruleId: string;
  /** Exactly one of server and serverPattern is set. */
  readonly server?: string;
  readonly serverPattern?: string;
  readonly justification: string;
  readonly grantedBy: string;
  readonly grantedAt: number;
  readonly expiresAt: number;
  readonly changedAt: number;
  readonly state: WaiverState;
  readonly endedAt?: number;
  /** Bumped on every change; part of audit event keys. */
  readonly revision: number;
}

export interface StoredWaiver extends WaiverRecord {
  readonly etag: string;
}

const PK = 'waivers';

function toEntity(w: WaiverRecord) {
  return {
    partitionKey: PK,
    rowKey: encodeKey(w.id),
    WaiverId: w.id,
    RuleId: w.ruleId,
    Server: w.server ?? '',
    ServerPattern: w.serverPattern ?? '',
    Justification: boundedText(w.justification),
    GrantedBy: w.grantedBy,
    GrantedAt: dateTime(w.grantedAt),
    ExpiresAt: dateTime(w.expiresAt),
    ChangedAt: dateTime(w.changedAt),
    State: w.state,
    ...(w.endedAt === undefined ? {} : { EndedAt: dateTime(w.endedAt) }),
    Revision: int32(w.revision),
  };
}

function fromEntity(e: Record<string, unknown>): StoredWaiver {
  const state = str(e, 'State');
  return {
    id: str(e, 'WaiverId'),
    ruleId: str(e, 'RuleId'),
    server: optStr(e, 'Server'),
    serverPattern: optStr(e, 'ServerPattern'),
    justification: str(e, 'Justification'),
    grantedBy: str(e, 'GrantedBy'),
    grantedAt: ms(e, 'GrantedAt') ?? 0,
    expiresAt: ms(e, 'ExpiresAt') ?? 0,
    changedAt: ms(e, 'ChangedAt') ?? 0,
    state: state === 'expired' || state === 'deleted' ? state : 'active',
    endedAt: ms(e, 'EndedAt'),
    revision: num(e, 'Revision') ?? 0,
    etag: String(e.etag ?? ''),
  };
}

export class WaiverStore {
  readonly #t: TableClients;
  constructor(private readonly store: PostureStore) {
    this.#t = store.tables;
  }

  /** Every waiver, or only those in `state`. */
  async list(state?: WaiverState): Promise<StoredWaiver[]> {
    await this.store.ensureTables();
    const filter = state ? odata`PartitionKey eq ${PK} and State eq ${state}` : odata`PartitionKey eq ${PK}`;
    return this.store.guarded('listing waivers', async () => {
      const out: StoredWaiver[] = [];
      for await (const e of this.#t.waivers.listEntities({ queryOptions: { filter } })) out.push(fromEntity(e));
      return out;
    });
  }

  async get(id: string): Promise<StoredWaiver | undefined> {
    await this.store.ensureTables();
    try {
      return fromEntity(await this.store.guarded('reading a waiver', () => this.#t.waivers.getEntity(PK, encodeKey(id))));
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  /** Creates (no etag) or replaces a waiver still at `etag`; ConcurrencyConflictError when it moved. */
  async put(w: WaiverRecord, etag: string | undefined): Promise<void> {
    await this.store.ensureTables();
    try {
      await this.store.guarded('writing a waiver', () => (etag ? this.#t.waivers.updateEntity(toEntity(w), 'Replace', { etag }) : this.#t.waivers.createEntity(toEntity(w))));
    } catch (error) {
      const status = statusCodeOf(error);
      if (status === 409 || status === 412 || status === 404) throw new ConcurrencyConflictError(`Waiver ${w.id} was changed meanwhile.`, { cause: error });
      throw error;
    }
  }
}
