// The Events and History tables: status changes, written by the projector (and by the jobs that
// record a change of their own: stale servers, waivers, baselines) after the commit.
//   Events: one partition, RK = inverted time and the change — the fleet's changes, newest first.
//   History: PK = server bucket, RK = server and inverted time — one server's status changes,
//     kept apart so a server's history is a range read however large the fleet; rows written
//     before the buckets sit in the server's own partition until the layout migration moves them.
// Replays write the same rows (every row is keyed by the change it records).
import { odata, TableTransaction } from '@azure/data-tables';
import { queryId } from './cursor';
import type { Lang } from '../rules/types';
import { entityToEvent, eventListColumns, EVENTS_PARTITION, eventRowKey, eventToEntity, historyPartition, historyToEntity, legacyServerPartition, removedByInDetail, serverRange } from './entities';
import { settleAll } from './errors';
import { and, MAX_FILTER_COMPARISONS, or } from './filters';
import { decodePosition, encodePosition, walkPage, walkStart, type HistoryLayout, type WalkRow } from './history-walk';
import { invertedTime } from './keys';
import type { PostureStore } from './posture-store';
import type { RecordedEmpty } from './recorded-empty';
import type { EventRecord, Page } from './records';
import { MAX_PAGE_FETCHES, type SiblingTable } from './sibling-table';
import { settleBounded, transactionChunks } from './transactions';

export interface EventFilter {
  readonly server?: string;
  readonly ruleId?: string;
  /** Matches the status an event changed to. */
  readonly statuses?: readonly string[];
  readonly since?: number;
  /** Matches the event's cause (snapshot, rule-change, stale, returned, removed, waiver-…). */
  readonly causes?: readonly string[];
}

/** Causes that are status changes of a server, kept in its History partition too. */
const HISTORY_CAUSES = new Set(['snapshot', 'rule-change', 'stale', 'returned', 'removed']);

/** Point reads of older removal events' Detail in flight at once: a page rarely holds any, never a burst. */
const DETAIL_READS_PARALLEL = 4;

export class EventStore {
  readonly #events: SiblingTable;
  readonly #history: SiblingTable;
  /** Whether History's older layout is recorded empty (the store's one belief, shared with the raw snapshots). */
  readonly #olderLayouts: RecordedEmpty;

  constructor(store: PostureStore) {
    this.#events = store.siblingTable('events');
    this.#history = store.siblingTable('history');
    this.#olderLayouts = store.olderLayouts;
  }

  /**
   * Writes events, and the servers' status changes to History: transactions of at most 100 rows
   * and 4 MiB (History's one per bucket of servers), a few at a time. Replays write the same rows.
   */
  async putEvents(events: readonly EventRecord[]): Promise<void> {
    const history = events.filter((e) => e.server && HISTORY_CAUSES.has(e.cause ?? 'snapshot')).map(historyToEntity);
    // Different tables: written side by side; all settle before a failure is reported.
    await settleAll([this.#putEventRows(events), this.#history.upsertRows(history, 'writing history')]);
  }

  /**
   * One server's status changes, newest first: its range of its bucket's History partition merged
   * by key with its partition of the older layout (rows written before the buckets), until the
   * layout migration has recorded that layout empty. A change in both (copied, not yet deleted) is
   * returned once (see history-walk).
   */
  async listHistory(server: string, ruleId: string | undefined, top: number, token?: string): Promise<Page<EventRecord>> {
    await this.#history.ready();
    // Not the query id of the walks before the merge: their tokens hold no key to resume after.
    // Stryker disable next-line StringLiteral: the name tells this query's tokens from others', and no other query has it or none.
    const query = queryId('history-merged', { server, ruleId });
    const at = token === undefined ? walkStart(2) : decodePosition((await this.#history.cursors.open(token, query)).t, 2);
    const rule = ruleId ? odata`RuleId eq ${ruleId}` : undefined;
    const range = serverRange(server);
    const bucket = this.#historyLayout(odata`PartitionKey eq ${historyPartition(server)}`, range.from, range.to, rule);
    // Once the older layout is recorded empty, its partition is not asked, whatever a token says of it.
    const older = (await this.#olderLayouts.gone()) ? undefined : this.#historyLayout(odata`PartitionKey eq ${legacyServerPartition(server)}`, '', undefined, rule);
    const page = await walkPage([bucket, older], at, top);
    // One walk, not a list of partitions: its position is the cursor's text.
    return { items: page.rows.map(entityToEvent), continuationToken: page.next ? await this.#history.cursors.seal(query, { i: 0, t: encodePosition(page.next) }) : undefined };
  }

  /**
   * One layout of a server's History for the walk: the rows of `partition` whose RowKey is `prefix`
   * and a key (below `to`), read a few pages at most per call so a request stays short.
   */
  #historyLayout(partition: string, prefix: string, to: string | undefined, rule: string | undefined): HistoryLayout {
    return {
      read: async (after, max, token) => {
        const filter = and(partition, after === undefined ? (prefix ? odata`RowKey ge ${prefix}` : undefined) : odata`RowKey gt ${prefix + after}`, to === undefined ? undefined : odata`RowKey lt ${to}`, rule);
        const rows: WalkRow[] = [];
        let next = token;
        for (let fetches = 0; fetches < MAX_PAGE_FETCHES / 2 && rows.length < max; fetches++) {
          const page = await this.#history.page('reading history', { filter }, max - rows.length, next);
          const value = page.done ? undefined : page.value;
          // Stryker disable next-line ArrayDeclaration: the SDK yields a first page even when it is empty, and a read stops once a page has no token.
          for (const e of value ?? []) rows.push({ key: String(e.rowKey).slice(prefix.length), entity: e });
          // Stryker disable next-line OptionalChaining: as above, a page is always there.
          next = value?.continuationToken;
          if (!next) break;
        }
        return { rows, ...(next ? { token: next } : {}) };
      },
    };
  }

  /**
   * The events in transactions of at most 100 rows and 4 MiB: each carries its messages, up to
   * 32,000 characters per language, so a hundred of them can pass what storage takes in one
   * request. A change written twice (a replay in the same batch) is one row, the first.
   */
  async #putEventRows(events: readonly EventRecord[]): Promise<void> {
    const seen = new Set<string>();
    const rows = events.map(eventToEntity).filter((e) => !seen.has(e.rowKey) && seen.add(e.rowKey));
    for (const chunk of transactionChunks(rows)) {
      const tx = new TableTransaction();
      for (const entity of chunk) tx.upsertEntity(entity, 'Replace');
      await this.#events.call('writing events', (t) => t.submitTransaction(tx.actions));
    }
  }

  /** Status changes, newest first. With `lang`, only the columns a list shows are read, the message in that language alone. */
  async listEvents(filter: EventFilter, top: number, token?: string, lang?: Lang): Promise<Page<EventRecord>> {
    await this.#events.ready();
    // Stryker disable next-line StringLiteral: the name tells this query's tokens from others', and no other query has it or none.
    const query = queryId('events', filter);
    const fixed = [
      odata`PartitionKey eq ${EVENTS_PARTITION}`,
      filter.since === undefined ? undefined : odata`RowKey lt ${invertedTime(filter.since) + '~'}`,
      filter.server !== undefined ? odata`Server eq ${filter.server}` : undefined,
      filter.ruleId ? odata`RuleId eq ${filter.ruleId}` : undefined,
    ].filter((f): f is string => f !== undefined);
    const statuses = filter.statuses ?? [];
    const causes = filter.causes ?? [];
    // Table storage refuses a filter of more than 15 comparisons, and every status and cause is one:
    // a list that would pass that is matched on the rows read instead (a page may then hold fewer
    // than `top`). Causes go first only when they alone are too many with the fixed parts.
    const causesRead = fixed.length + causes.length > MAX_FILTER_COMPARISONS;
    const statusesRead = fixed.length + (causesRead ? 0 : causes.length) + statuses.length > MAX_FILTER_COMPARISONS;
    const q = and(
      ...fixed,
      // `or` of no comparisons is none.
      statusesRead ? undefined : or(statuses.map((s) => odata`ToStatus eq ${s}`)),
      causesRead ? undefined : or(causes.map((c) => odata`Cause eq ${c}`)),
    );
    // Stryker disable next-line StringLiteral: a stored event always has a cause (entityToEvent reads one), so the fallback is never read.
    const keep = (e: EventRecord) => (!statusesRead || statuses.includes(e.toStatus)) && (!causesRead || causes.includes(e.cause ?? 'snapshot'));
    if (lang === undefined) return this.#events.walk([q], query, token, top, entityToEvent, undefined, keep);
    const page = await this.#events.walk([q], query, token, top, entityToEvent, eventListColumns(lang), keep);
    return { ...page, items: await this.#removedByFromDetail(page.items) };
  }

  /**
   * A list reads no Detail, so a removal event written before the RemovedBy column names no one:
   * such rows (few, and only old ones) have their Detail read by point reads, a few at a time, so
   * the list names who removed the server as the whole row does.
   */
  async #removedByFromDetail(items: readonly EventRecord[]): Promise<EventRecord[]> {
    const out = [...items];
    const older = out.flatMap((e, i) => (e.cause === 'removed' && e.removedBy === undefined ? [i] : []));
    await settleBounded(older, DETAIL_READS_PARALLEL, async (i) => {
      const e = out[i]!;
      // Every event row is keyed by eventRowKey of what it records, so its key follows from the item.
      const row = await this.#events.get(EVENTS_PARTITION, eventRowKey(e), 'reading an event', ['Cause', 'Detail']);
      if (row) out[i] = { ...e, removedBy: removedByInDetail(row) };
    });
    return out;
  }
}
