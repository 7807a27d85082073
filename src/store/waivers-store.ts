// The Waivers table: PK 'waivers', RK waiver id. A waiver is never physically deleted: it ends
// (State expired or deleted) and stays for audit. The whole set is one partition, small by nature.
import { odata, RestError } from '@azure/data-tables';
import { boundedText, dateTime, int32, ms, num, optStr, str } from './columns';
import { ConcurrencyConflictError, statusCodeOf } from './errors';
import { encodeKey } from './keys';
import type { PostureStore, SiblingTable } from './posture-store';

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
  readonly #table: SiblingTable;
  constructor(store: PostureStore) {
    this.#table = store.siblingTable('waivers');
  }

  /** Every waiver, or only those in `state`. */
  async list(state?: WaiverState): Promise<StoredWaiver[]> {
    await this.#table.ready();
    const filter = state ? odata`PartitionKey eq ${PK} and State eq ${state}` : odata`PartitionKey eq ${PK}`;
    return this.#table.call('listing waivers', async (t) => {
      const out: StoredWaiver[] = [];
      for await (const e of t.listEntities({ queryOptions: { filter } })) out.push(fromEntity(e));
      return out;
    });
  }

  async get(id: string): Promise<StoredWaiver | undefined> {
    await this.#table.ready();
    try {
      return fromEntity(await this.#table.call('reading a waiver', (t) => t.getEntity(PK, encodeKey(id))));
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  /** Creates (no etag) or replaces a waiver still at `etag`; ConcurrencyConflictError when it moved. */
  async put(w: WaiverRecord, etag: string | undefined): Promise<void> {
    await this.#table.ready();
    try {
      await this.#table.call('writing a waiver', (t) => (etag ? t.updateEntity(toEntity(w), 'Replace', { etag }) : t.createEntity(toEntity(w))));
    } catch (error) {
      const status = statusCodeOf(error);
      if (status === 409 || status === 412 || status === 404) throw new ConcurrencyConflictError(`Waiver ${w.id} was changed meanwhile.`, { cause: error });
      throw error;
    }
  }
}
