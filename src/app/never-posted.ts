// Servers given a key that have posted nothing since: a collector that never ran, or whose every
// snapshot was refused. Such a server has no results, so it is in no count and cannot go stale: the
// stale-hosts timer logs it, and the readers' list and the refused-servers listing name it, for as
// long as it has an active key and has not posted (an admin who gives up on it revokes the key).
// The key's head row says whether the server has posted: the stale-hosts timer marks it once a
// read finds a snapshot, so the listing holds only servers still in doubt, whenever their key was
// issued. A rollout enrols hundreds or thousands of servers at once, nearly all of which post at
// once: a server found to have posted is also remembered for its key's issue time (the listing, a
// read, marks nothing), so each check spends its reads on the servers still in doubt, oldest key
// first, and a fleet larger than one check's reads is covered over a few checks.
import type { AwaitingKey } from '../store';
import { RecentSet } from './recent-set';

/** A server given a key this long ago with nothing posted since is listed: its collector posts at once, then hourly. */
export const NEVER_POSTED_GRACE_MS = 2 * 60 * 60 * 1000;
/**
 * How far back keys are looked for whose head was written before heads said whether the server
 * posted (the window every key had then); a head written since is listed until the server posts.
 */
export const UNMARKED_WINDOW_MS = 30 * 24 * 60 * 60 * 1000;

export interface NeverPostedDeps {
  /**
   * Servers with an active key issued at or before `to` not marked as having posted (with
   * `unmarkedFrom`, heads without the mark too, for keys issued from then on), oldest first: at most
   * `max`, the first in the table's order, `truncated` when more were.
   */
  readonly awaitingFirstPost: (to: number, unmarkedFrom: number | undefined, max: number) => Promise<{ servers: AwaitingKey[]; truncated: boolean }>;
  /** Whether any snapshot of the server has been stored (one read). */
  readonly hasPosted: (server: string) => Promise<boolean>;
  /** Marks the server as having posted, so no later check lists it (one write). */
  readonly markPosted: (server: string) => Promise<void>;
  /** Gives a head without the mark the mark "not posted", unless it changed since read at `etag` (one write). */
  readonly markNotPosted: (server: string, etag: string) => Promise<void>;
}

/** A server's active key and when it was issued. */
export type IssuedKey = Omit<AwaitingKey, 'unmarked'>;

export interface NeverPostedLimits {
  /** Most key heads one check lists (two columns each, a page per thousand). */
  readonly listed: number;
  /** Most servers one check reads, of those not known to have posted. */
  readonly read: number;
  /** Reads at a time. */
  readonly parallel: number;
}

const LIMITS: NeverPostedLimits = { listed: 10_000, read: 1000, parallel: 25 };

export class NeverPosted {
  readonly #limits: NeverPostedLimits;
  /** "server, issue time" of keys under which the server was found to have posted: that never reverts. */
  readonly #posted: RecentSet;
  constructor(
    private readonly deps: NeverPostedDeps,
    limits: Partial<NeverPostedLimits> = {},
  ) {
    this.#limits = { ...LIMITS, ...limits };
    this.#posted = new RecentSet(this.#limits.listed);
  }

  /**
   * Servers given a key that have posted nothing since, oldest key first; truncated when more keys
   * were issued than one check lists, or more were in doubt than it reads (the next check goes on
   * with those). With `mark` (the stale-hosts timer, never a read request), a server found to have
   * posted is marked so, and the heads written before heads said so are looked at too (a query of
   * every head of the last 30 days) and each given the mark it lacks: a listing then finds them
   * with one query of the heads marked not posted.
   */
  async find(now: number, { mark = false }: { mark?: boolean } = {}): Promise<{ servers: IssuedKey[]; truncated: boolean }> {
    const { listed, read, parallel } = this.#limits;
    const issued = await this.deps.awaitingFirstPost(now - NEVER_POSTED_GRACE_MS, mark ? now - UNMARKED_WINDOW_MS : undefined, listed);
    const doubt = issued.servers.filter((s) => !this.#posted.has(memoKey(s)));
    const checked = doubt.slice(0, read);
    const silent: AwaitingKey[] = [];
    // Known to have posted and not marked so yet: remembered here (a listing read it) or read below.
    const posted = issued.servers.filter((s) => this.#posted.has(memoKey(s)));
    await inBatches(checked, parallel, async (batch) => {
      const found = await Promise.all(batch.map((s) => this.deps.hasPosted(s.server)));
      for (const [j, s] of batch.entries()) {
        if (found[j]) {
          this.#posted.add(memoKey(s));
          posted.push(s);
        } else silent.push(s);
      }
    });
    if (mark) {
      // A mark that failed is made by the next run: until then a posted server is only read again,
      // and a head without one is listed only by the timer.
      const unmarked = silent.filter((s) => s.unmarked !== undefined);
      await inBatches(posted, parallel, (batch) => Promise.all(batch.map((s) => this.deps.markPosted(s.server).catch(() => undefined))));
      await inBatches(unmarked, parallel, (batch) => Promise.all(batch.map((s) => this.deps.markNotPosted(s.server, s.unmarked!).catch(() => undefined))));
    }
    return { servers: silent.map(({ server, issuedAt }) => ({ server, issuedAt })), truncated: issued.truncated || doubt.length > checked.length };
  }
}

const memoKey = (s: IssuedKey) => `${s.server}\n${s.issuedAt}`;

/** Runs `each` on `size` items at a time, one batch after another. */
async function inBatches<T>(items: readonly T[], size: number, each: (batch: T[]) => Promise<unknown>): Promise<void> {
  // Stryker disable next-line EqualityOperator: one step past the end takes an empty batch, which does nothing.
  for (let i = 0; i < items.length; i += size) await each(items.slice(i, i + size));
}
