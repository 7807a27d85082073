// Servers given a key that have posted nothing since: a collector that never ran, or whose every
// snapshot was refused. Such a server is in no fleet view and cannot go stale, so the stale-hosts
// timer logs it and the refused-servers listing names it. A rollout enrols hundreds or thousands of
// servers within the window, nearly all of which post at once: a server found to have posted is
// remembered for its key's issue time, so each run spends its reads on the servers still in doubt,
// oldest key first, and a fleet larger than one run's reads is covered over a few runs.
import { RecentSet } from './recent-set';

/** A server given a key this long ago with nothing posted since is listed: its collector posts at once, then hourly. */
export const NEVER_POSTED_GRACE_MS = 2 * 60 * 60 * 1000;
/** How far back keys of servers that never posted are looked for. */
export const NEVER_POSTED_WINDOW_MS = 30 * 24 * 60 * 60 * 1000;

export interface NeverPostedDeps {
  /** Servers whose active key was issued between `from` and `to`, oldest first: at most `max`, the first in the table's order, `truncated` when more were. */
  readonly issuedBetween: (from: number, to: number, max: number) => Promise<{ servers: IssuedKey[]; truncated: boolean }>;
  /** Whether any snapshot of the server has been stored (one read). */
  readonly hasPosted: (server: string) => Promise<boolean>;
}

export interface IssuedKey {
  readonly server: string;
  readonly issuedAt: number;
}

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
   * Servers given a key in the window that have posted nothing since, oldest key first; truncated
   * when more keys were issued than one check lists, or more were in doubt than it reads (the next
   * check goes on with those).
   */
  async find(now: number): Promise<{ servers: IssuedKey[]; truncated: boolean }> {
    const { listed, read, parallel } = this.#limits;
    const issued = await this.deps.issuedBetween(now - NEVER_POSTED_WINDOW_MS, now - NEVER_POSTED_GRACE_MS, listed);
    const doubt = issued.servers.filter((s) => !this.#posted.has(memoKey(s)));
    const checked = doubt.slice(0, read);
    const silent: IssuedKey[] = [];
    // Stryker disable next-line EqualityOperator: one step past the end takes an empty batch, which reads nothing.
    for (let i = 0; i < checked.length; i += parallel) {
      const batch = checked.slice(i, i + parallel);
      const posted = await Promise.all(batch.map((s) => this.deps.hasPosted(s.server)));
      for (const [j, s] of batch.entries()) {
        if (posted[j]) this.#posted.add(memoKey(s));
        else silent.push(s);
      }
    }
    return { servers: silent, truncated: issued.truncated || doubt.length > checked.length };
  }
}

const memoKey = (s: IssuedKey) => `${s.server}\n${s.issuedAt}`;
