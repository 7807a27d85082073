// The Waivers table: PK 'waivers', RK waiver id. A waiver is never physically deleted: it ends
// (State expired or deleted) and stays for audit. The whole set is one partition, small by nature.
import { odata, RestError } from '@azure/data-tables';
import { boundedText, int32, jsonOf, num, optStr, readColumns, str, writeColumns, type ColumnKinds } from './columns';
import { ConcurrencyConflictError, statusCodeOf } from './errors';
import { encodeKey } from './keys';
import type { PostureStore } from './posture-store';
import type { SiblingTable } from './sibling-table';

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
  /** What the change stored last still owes; cleared once done. */
  readonly followUp?: WaiverFollowUp;
  /**
   * The runs that cleared the last few follow-ups, newest first: a run whose clearing answer was
   * lost knows by it that it did (and so alone logs the alerts), even once changed again.
   */
  readonly followedUpBy?: readonly string[];
  /**
   * The requests that stored this revision and the few before it, newest first: a request whose
   * answer was lost after its change landed knows by it that it did, even once changed again.
   */
  readonly writers?: readonly string[];
}

/** The rule and servers a waiver covered, and until when: where the alerts it hands back come from. */
export type WaiverScope = Pick<WaiverRecord, 'ruleId' | 'server' | 'serverPattern' | 'expiresAt'>;

/**
 * What a stored change of a waiver owes the rest of the service: its audit event and, for an end or
 * a narrowing, the alerts it hands back. Written with the change, so a failure after it leaves them
 * owed, not lost.
 */
export interface WaiverFollowUp {
  readonly cause: string;
  /** The audit event's time. */
  readonly at: number;
  /** The alerts handed back: why, when the waiver stopped covering, and what it covered until then. */
  readonly reRaise?: { readonly reason: 'expired' | 'deleted' | 'changed'; readonly endedAt: number; readonly scope: WaiverScope };
}

export interface StoredWaiver extends WaiverRecord {
  readonly etag: string;
}

const PK = 'waivers';

/** The columns named like the record's fields (the id is WaiverId, the justification bounded). */
const WAIVER_COLUMNS = {
  ruleId: 'text',
  server: 'optText',
  serverPattern: 'optText',
  grantedBy: 'text',
  grantedAt: 'time',
  expiresAt: 'time',
  changedAt: 'time',
  endedAt: 'optTime',
} as const satisfies ColumnKinds<WaiverRecord>;

function toEntity(w: WaiverRecord) {
  return {
    partitionKey: PK,
    rowKey: encodeKey(w.id),
    WaiverId: w.id,
    ...writeColumns(w, WAIVER_COLUMNS),
    Justification: boundedText(w.justification),
    State: w.state,
    Revision: int32(w.revision),
    ...(w.followUp ? { FollowUp: JSON.stringify(w.followUp) } : {}),
    ...(w.followedUpBy ? { FollowUpClearers: JSON.stringify(w.followedUpBy), FollowedUpBy: w.followedUpBy[0] } : {}),
    ...(w.writers ? { Writers: JSON.stringify(w.writers), WrittenBy: w.writers[0] } : {}),
  };
}

/**
 * A list of marks, with the single newest mark the previous release keeps in its own column. During
 * a rolling deployment that release replaces the row without the list (it knows no such column) but
 * keeps its single column, so a row it wrote last names its newest mark there only.
 */
function marksOf(e: Record<string, unknown>, list: string, single: string): string[] | undefined {
  const marks = jsonOf<string[]>(e, list);
  const newest = optStr(e, single);
  return newest === undefined || marks?.[0] === newest ? marks : [newest, ...(marks ?? [])];
}

function fromEntity(e: Record<string, unknown>): StoredWaiver {
  const state = str(e, 'State');
  return {
    id: str(e, 'WaiverId'),
    ...readColumns<WaiverRecord, keyof typeof WAIVER_COLUMNS>(e, WAIVER_COLUMNS),
    justification: str(e, 'Justification'),
    state: state === 'expired' || state === 'deleted' ? state : 'active',
    revision: num(e, 'Revision') ?? 0,
    followUp: jsonOf<WaiverFollowUp>(e, 'FollowUp'),
    followedUpBy: marksOf(e, 'FollowUpClearers', 'FollowedUpBy'),
    writers: marksOf(e, 'Writers', 'WrittenBy'),
    // Stryker disable next-line StringLiteral: a row read from storage always has an ETag, so the fallback is never read.
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

  /** Creates (no etag) or replaces a waiver still at `etag`, returning its new ETag; ConcurrencyConflictError when it moved. */
  async put(w: WaiverRecord, etag: string | undefined): Promise<string> {
    await this.#table.ready();
    try {
      const written = await this.#table.call('writing a waiver', (t) => (etag ? t.updateEntity(toEntity(w), 'Replace', { etag }) : t.createEntity(toEntity(w))));
      if (!written.etag) throw new Error(`Storage returned no ETag for waiver ${w.id}.`);
      return written.etag;
    } catch (error) {
      const status = statusCodeOf(error);
      if (status === 409 || status === 412 || status === 404) throw new ConcurrencyConflictError(`Waiver ${w.id} was changed meanwhile.`, { cause: error });
      throw error;
    }
  }
}
