// Waivers: an accepted risk for one rule on one server or a server-name pattern, with a reason, who
// granted it and an end date. A waived result keeps its real status; only its alert is held back.
// When a waiver ends (expiry, deletion, or a change that narrows it) every still-failing result it
// covered raises its alert again. Waivers are read, not copied onto results, so granting one is a
// single write however many servers a pattern covers.
import { backOff, CONTENDED_ATTEMPTS, ConcurrencyConflictError, type EventRecord, type EventStore, type ResultSummary, type StoredWaiver, type WaiverFollowUp, type WaiverRecord, type WaiverScope, type WaiverState, type WaiverStore } from '../store';
import { ApiError, messageOf } from './errors';
import type { AlertLog } from './alert-log';
import { changedMeanwhile, inForceAlready, revisionEtag, staleIfMatch, type Precondition } from './preconditions';
import { formatLogRecord, LOG_RECORDS } from './log-records';
import type { UseCaseDeps } from './use-case-deps';
import { alertRecordId } from './projection-work';
import { marked, newMark } from './own-writes';
import { noSuchServer, type ServerNames } from './server-names';
import { isoInstant } from './iso-time';
import { inForceAt, overdueAt, readWaiverBody, waiverStateAt, waiverView, WAIVER_ID } from './waiver-body';
import { FINDING_STATUSES } from './findings';
import { coverOf, waiverMatches } from './waiver-cover';

export interface WaiversDeps extends UseCaseDeps {
  readonly waivers: WaiverStore;
  readonly events: EventStore;
  readonly maxDays: number;
  /**
   * Turns a waiver's host name or pattern into the ids it names. An exact id, a removed server's
   * included, is looked up in the store first (one read of its partition).
   */
  readonly names: ServerNames;
}

/** Servers read at most to count what a pattern covers (the Results range of its text before the first wildcard). */
const COVERAGE_READ = 5000;

/** How many known servers a waiver covers as it is stored now, and what a person should know about that. */
export interface WaiverCoverage {
  readonly servers: number;
  /** More servers may match than were counted (a pattern over a very large fleet). */
  readonly atLeast: boolean;
  readonly warnings: readonly { readonly code: 'covers_no_server'; readonly message: string }[];
}

const scopeOf = (w: WaiverRecord): WaiverScope => ({ ruleId: w.ruleId, server: w.server, serverPattern: w.serverPattern, expiresAt: w.expiresAt });

/** The waiver as its expiry ends it: what the timer stores, and what a change finding it past its time stores first. */
function expiredOf(w: WaiverRecord, now: number): WaiverRecord {
  return {
    ...w,
    state: 'expired',
    endedAt: w.expiresAt,
    changedAt: now,
    revision: w.revision + 1,
    followUp: { cause: 'waiver-expired', at: w.expiresAt, reRaise: { reason: 'expired', endedAt: now, scope: scopeOf(w) } },
  };
}

/** What a PUT sets (and grantedAt, which it keeps): an expiry changes none of them. */
const SET_BY_PUT = ['ruleId', 'server', 'serverPattern', 'justification', 'grantedBy', 'grantedAt', 'expiresAt'] as const;

/** Is `after` `before` ended by its expiry (as expiredOf stores it, by whichever run), and nothing else changed? */
function isExpiryOf(after: WaiverRecord, before: WaiverRecord): boolean {
  return after.revision === before.revision + 1 && after.state === 'expired' && after.endedAt === before.expiresAt && SET_BY_PUT.every((k) => after[k] === before[k]);
}

export class Waivers {
  constructor(private readonly deps: WaiversDeps) {}

  /**
   * Creates or changes a waiver; `created` tells 201 from 200. The coverage is counted before the
   * change is stored, so a storage failure counting it leaves the waiver as it was. `createOnly`
   * (If-None-Match: *) refuses a waiver in force with this id, also one another request created
   * while this one was being decided (its write then conflicts and is decided again).
   */
  async put(id: string, doc: unknown, log: AlertLog, precondition?: Precondition, createOnly = false): Promise<{ created: boolean; waiver: WaiverRecord; coverage: WaiverCoverage }> {
    const checked = readWaiverBody(id, doc, { rules: this.deps.rules, now: this.deps.clock(), maxDays: this.deps.maxDays });
    const named = checked.server === undefined ? undefined : await this.#serverOf(checked.server);
    const input = named === undefined ? checked : { ...checked, server: named.id };
    // Stryker disable next-line StringLiteral: a body without a server has a serverPattern (readWaiverBody takes exactly one), so the fallback is never read.
    const coverage = named === undefined ? await this.#patternCoverage(checked.serverPattern ?? '') : serverCoverage(named);
    // A PUT always changes the waiver (never "unchanged"), so what it answers is the row written.
    const { existing, written: next } = await this.#change<never>(id, log, precondition, false, (existing) => {
      const now = this.deps.clock();
      const live = existing !== undefined && inForceAt(existing, now);
      if (live && createOnly) throw inForceAlready(`Waiver ${id}`, revisionEtag(existing));
      return {
        id,
        ...input,
        grantedAt: live ? existing.grantedAt : now,
        changedAt: now,
        state: 'active',
        revision: (existing?.revision ?? 0) + 1,
        // Kept for a run whose clearing of the last follow-up lost its answer and reads it back.
        followedUpBy: existing?.followedUpBy,
        // A change that no longer covers some failing results hands their alerts back.
        followUp: live ? { cause: 'waiver-changed', at: now, reRaise: { reason: 'changed', endedAt: now, scope: scopeOf(existing) } } : { cause: 'waiver-created', at: now },
      };
    });
    await this.#followUpNow(next, log);
    const wasLive = existing !== undefined && inForceAt(existing, next.changedAt);
    return { created: !wasLive, waiver: next, coverage };
  }

  /**
   * Decides a change on the waiver as stored and stores it under the row's ETag, answered as stored
   * (also when only its answer was lost). `decide` answers undefined (`Unchanged`) when there is
   * nothing to change, and `written` is then that too; a caller whose decision always changes the
   * waiver gives `never` for it and so has the row written by type. A write refused because the row
   * changed meanwhile is decided again on what is there now: some writes leave the revision as it
   * was (a follow-up cleared), and If-Match, checked again on the row read, must not fail for them;
   * a change another admin made moves the revision, and the check then answers 412. Without
   * If-Match the caller asked for the outcome whatever was there.
   */
  async #change<Unchanged extends undefined>(
    id: string,
    log: AlertLog,
    precondition: Precondition | undefined,
    deleting: boolean,
    decide: (existing: StoredWaiver | undefined) => WaiverRecord | Unchanged,
  ): Promise<{ existing: StoredWaiver | undefined; written: StoredWaiver | Unchanged }> {
    let check = precondition;
    for (let attempt = 1; ; attempt++) {
      const existing = await this.#current(id, log, check, deleting);
      // Later attempts hold If-Match to the row this one settled on: ending a waiver past its expiry,
      // this request itself moved the revision past the one If-Match names.
      // Stryker disable next-line ConditionalExpression: a later attempt gets past the check only on a row at the revision the first one settled on, so setting the check again would set the same one.
      if (attempt === 1 && precondition) {
        const settled = existing && revisionEtag(existing);
        check = (etag) => etag === settled;
      }
      const next = decide(existing);
      // Stryker disable next-line ObjectLiteral: only a removal decides no change, and it reads only `written`, undefined either way.
      if (next === undefined) return { existing, written: next };
      try {
        return { existing, written: await this.#putChange(next, existing) };
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        if (attempt >= CONTENDED_ATTEMPTS) throw precondition ? changedMeanwhile(`Waiver ${id}`) : error;
        await backOff(attempt);
      }
    }
  }

  /**
   * Stores a change over `existing` (under its ETag), naming this request among the row's writers.
   * A write that landed but whose answer was lost (the SDK's retry is then refused as a conflict, or
   * a last retry fails) is known by that name when read back, also once another change replaced it
   * meanwhile: it is answered as it was stored, never stored a second time, and its follow-up is
   * done by then (every change settles the one before it first). Any other failure is thrown.
   */
  async #putChange(next: WaiverRecord, existing: StoredWaiver | undefined): Promise<StoredWaiver> {
    const { run, marks } = newMark(existing?.writers);
    const mine: WaiverRecord = { ...next, writers: marks };
    try {
      return { ...mine, etag: await this.deps.waivers.put(mine, existing?.etag) };
    } catch (error) {
      const stored = await this.deps.waivers.get(next.id);
      if (!stored || !marked(stored.writers, run)) throw error;
      return stored.revision === mine.revision ? stored : { ...mine, followUp: undefined, etag: '' };
    }
  }

  /**
   * Clears a change's follow-up from the waiver at its ETag, naming this run first in followedUpBy.
   * A clearing that landed but whose answer was lost is known by that name when read back, also
   * once later changes (which carry the names on) replaced it; any other failure is thrown.
   */
  async #clearFollowUp(w: StoredWaiver): Promise<void> {
    const { run, marks } = newMark(w.followedUpBy);
    try {
      await this.deps.waivers.put({ ...w, followUp: undefined, followedUpBy: marks }, w.etag);
    } catch (error) {
      if (!marked((await this.deps.waivers.get(w.id))?.followedUpBy, run)) throw error;
    }
  }

  /**
   * The servers known now that a pattern covers. None is allowed (a waiver may come before its
   * servers post) but said: a host-name pattern such as exch0? covers no server known by its FQDN.
   */
  async #patternCoverage(pattern: string): Promise<WaiverCoverage> {
    const { servers, atLeast } = await this.deps.names.matching(pattern, COVERAGE_READ);
    if (servers.length > 0 || atLeast) return { servers: servers.length, atLeast, warnings: [] };
    const later = 'the waiver is stored and covers servers that post under a matching id later';
    const asFqdn = pattern.includes('.') ? undefined : await this.deps.names.matching(`${pattern}.*`, COVERAGE_READ);
    const message =
      asFqdn && asFqdn.servers.length > 0
        ? `"serverPattern" "${pattern}" covers none of the servers known now: servers are known by their id, the FQDN (such as ${asFqdn.servers[0]}), and "${pattern}.*" would cover ${asFqdn.servers.length}${asFqdn.atLeast ? ' or more' : ''} of them; ${later}.`
        : `"serverPattern" "${pattern}" covers none of the servers known now (no server id matches it); ${later}.`;
    return { servers: 0, atLeast: false, warnings: [{ code: 'covers_no_server', message }] };
  }

  /**
   * A waiver's one server, stored as its id (what results carry): a host name becomes the id of the
   * one server it begins. A server that has not posted yet may be named by its id (its FQDN, which
   * has a dot); a bare name that fits no server, or several, is refused, since it would cover nothing.
   */
  async #serverOf(name: string): Promise<NamedServer> {
    // An exact id (of a server that counts, or of a removed one, which covers nothing until it posts
    // again) is told by one read of its partition: the names' own check would read it once more.
    const standing = await this.deps.store.serverStanding(name);
    if (standing !== undefined) return { id: name, posted: standing };
    // A host name's candidates are servers that count: removed ones are known by their id only.
    const match = await this.deps.names.byHostName(name);
    if (match.id !== undefined) return { id: match.id, posted: 'counts' };
    if (match.candidates.length === 0 && name.includes('.')) {
      // Stryker disable next-line StringLiteral: serverCoverage tells a server that counts and a removed one from the rest, so any other word reads as one not posted yet.
      return { id: name, posted: 'not-yet' };
    }
    throw noSuchServer(name, match.candidates, 'invalid_waiver');
  }

  async get(id: string): Promise<StoredWaiver | undefined> {
    return WAIVER_ID.test(id) ? this.deps.waivers.get(id) : undefined;
  }

  async list(state?: WaiverState): Promise<StoredWaiver[]> {
    const now = this.deps.clock();
    const all = await this.deps.waivers.list();
    // Stryker disable next-line EqualityOperator: waiver ids are the rows' keys, so no two are equal.
    return all.filter((w) => !state || waiverStateAt(w, now) === state).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Ends a waiver now; undefined when there is no such active waiver (whatever the precondition). */
  async remove(id: string, log: AlertLog, precondition?: Precondition): Promise<WaiverRecord | undefined> {
    const { written } = await this.#change(id, log, precondition, true, (existing) => {
      if (!existing || existing.state !== 'active') return undefined;
      const now = this.deps.clock();
      return {
        ...existing,
        state: 'deleted',
        endedAt: now,
        changedAt: now,
        revision: existing.revision + 1,
        followUp: { cause: 'waiver-deleted', at: now, reRaise: { reason: 'deleted', endedAt: now, scope: scopeOf(existing) } },
      };
    });
    if (!written) return undefined;
    await this.#followUpNow(written, log);
    return written;
  }

  /** Waivers in force now. */
  async active(): Promise<StoredWaiver[]> {
    const now = this.deps.clock();
    return (await this.deps.waivers.list('active')).filter((w) => inForceAt(w, now));
  }

  /**
   * The projector's lookup for alert records: (server, rule, when the finding began) → the covering
   * waiver's id, one read for many records. A waiver the timer has not ended yet covers a finding
   * that began before its expiry, however late the projection runs, and never one that began after
   * it: exactly the findings the expiry re-raises are the ones held back here, so each alerts once,
   * whether the projection lags past the expiry or a fast collector clock dates a finding after it.
   */
  async coverage(): Promise<(server: string, ruleId: string, since: number) => string | undefined> {
    const listed = await this.deps.waivers.list('active');
    return (server, ruleId, since) =>
      coverOf(
        listed.filter((w) => w.expiresAt > since),
        server,
        ruleId,
      )?.id;
  }

  /** The waiver covering (server, rule), if any. */
  async waiverOf(server: string, ruleId: string): Promise<string | undefined> {
    return coverOf(await this.active(), server, ruleId)?.id;
  }

  /**
   * The timer: ends waivers past their expiry and re-raises what they covered. Each is claimed by
   * ETag, so one run acts on it. First it does what earlier changes still owe (their audit event
   * and alerts, left by a storage failure after the change was stored). A waiver whose work fails
   * is logged and counted as failed, and the run goes on: one waiver whose owed work keeps failing
   * must not hold back the expiry and alerts of every waiver listed after it. That holds for an
   * outage too, since a write refused for one waiver looks the same (storage unavailable); each
   * waiver then fails after the storage client's few short retries, and the next run tries again.
   */
  async expire(log: AlertLog): Promise<{ expired: number; reRaised: number; failed: number }> {
    const now = this.deps.clock();
    const counts = { expired: 0, reRaised: 0, failed: 0 };
    for (const listed of await this.deps.waivers.list()) {
      try {
        await this.#expireOne(listed, now, log, counts);
      } catch (error) {
        counts.failed++;
        log.log(`Waiver ${listed.id} revision ${listed.revision}: the waiver-expiry run could not do what it owes (${messageOf(error)}); the next run tries again.`);
      }
    }
    return counts;
  }

  /** The timer's work on one listed waiver, added to `counts` as it is done. */
  async #expireOne(listed: StoredWaiver, now: number, log: AlertLog, counts: { expired: number; reRaised: number }): Promise<void> {
    const settled = await this.#settle(listed, log);
    const w = settled.waiver;
    counts.reRaised += settled.reRaised;
    if (!w || !overdueAt(w, now)) return;
    // The expiry names this run, so one whose answer was lost after it landed (a 503 retried into a
    // 412) is known as this run's when read back, and counted and followed up now.
    const { run, marks } = newMark(w.writers);
    const ended: WaiverRecord = { ...expiredOf(w, now), writers: marks };
    let etag: string;
    try {
      etag = await this.deps.waivers.put(ended, w.etag);
    } catch (error) {
      // Another run claimed it, or it was changed meanwhile; anything else is this waiver failing.
      if (!(error instanceof ConcurrencyConflictError)) throw error;
      const stored = await this.deps.waivers.get(w.id);
      if (!stored || !marked(stored.writers, run)) return;
      counts.expired++;
      // A change stored since settled this follow-up first; otherwise it is still owed.
      counts.reRaised += (await this.#settle(stored, log)).reRaised;
      return;
    }
    counts.expired++;
    counts.reRaised += await this.#followUp({ ...ended, etag }, log);
  }

  /** The waiver as stored, after what its last change still owes is done: a change builds on that. */
  async #settled(id: string, log: AlertLog): Promise<StoredWaiver | undefined> {
    return (await this.#settle(await this.get(id), log)).waiver;
  }

  /**
   * `read` once what its last change owes is done, and how many findings that re-raised. A change
   * stored meanwhile may owe its own when the waiver is read again: that is done too, since a write
   * built on the waiver replaces what it owes (its audit event and alerts would be lost).
   */
  async #settle(read: StoredWaiver | undefined, log: AlertLog): Promise<{ waiver: StoredWaiver | undefined; reRaised: number }> {
    let w = read;
    let reRaised = 0;
    for (let round = 1; w?.followUp; round++) {
      if (round > CONTENDED_ATTEMPTS) throw new ConcurrencyConflictError(`Waiver ${w.id} kept changing while what its changes owe was done.`);
      reRaised += await this.#followUp(w, log);
      w = await this.deps.waivers.get(w.id);
    }
    return { waiver: w, reRaised };
  }

  /**
   * As #settled, and a waiver past its expiry that the timer has not ended yet is ended now, as the
   * timer would end it: a change or deletion taking its place would otherwise drop the alerts it
   * held back, and the audit would never say it expired. The precondition is checked before that,
   * on the revision the caller could have read (GET already shows such a waiver as expired). A
   * deletion checks it only on a waiver in force: one that is gone or ended is 404 whatever If-Match
   * says, as a precondition only guards a change the request would make.
   */
  async #current(id: string, log: AlertLog, precondition: Precondition | undefined, deleting: boolean): Promise<StoredWaiver | undefined> {
    const w = await this.#settled(id, log);
    const now = this.deps.clock();
    const live = w !== undefined && inForceAt(w, now);
    if (precondition && (live || !deleting) && !precondition(w && revisionEtag(w))) {
      throw w ? staleIfMatch(`Waiver ${id}`, revisionEtag(w)) : new ApiError('precondition_failed', `There is no waiver "${id}", so If-Match does not hold and nothing was changed.`);
    }
    if (!w || !overdueAt(w, now)) return w;
    const ended = expiredOf(w, now);
    try {
      const etag = await this.deps.waivers.put(ended, w.etag);
      await this.#followUpNow({ ...ended, etag }, log);
    } catch (error) {
      // Ended meanwhile by the timer, or changed by someone else: settled below.
      if (!(error instanceof ConcurrencyConflictError)) throw error;
    }
    const settled = await this.#settled(id, log);
    // The precondition held on the revision read as expired; only its ending by expiry may stand in
    // for it now. Anything else is another change made meanwhile, which the caller has not seen.
    if (precondition && !(settled && isExpiryOf(settled, w))) throw changedMeanwhile(`Waiver ${id}`);
    return settled;
  }

  /**
   * The follow-up of a change just stored. The change stands either way, so a failure does not fail
   * the request (its answer would say nothing was stored): the follow-up stays owed on the waiver,
   * and the next change of it, or the expiry timer within 15 minutes, does it.
   */
  async #followUpNow(w: StoredWaiver, log: AlertLog): Promise<void> {
    try {
      await this.#followUp(w, log);
    } catch (error) {
      log.log(`Waiver ${w.id} revision ${w.revision} is stored; its audit event and alerts are owed (${messageOf(error)}) and follow with the waiver-expiry job.`);
    }
  }

  /**
   * What a stored change owes: its audit event (its key is the waiver's id and revision, so writing
   * it again replaces it), then the alerts it hands back. Those are logged only after the follow-up
   * is cleared from the waiver by ETag, so of two runs at once only the one that cleared it logs
   * them: each once. The clearing names its run, so a run whose answer was lost after the clearing
   * landed (a 503 retried into a 412) still knows it was the one. Returns how many findings were
   * re-raised.
   */
  async #followUp(w: StoredWaiver, log: AlertLog): Promise<number> {
    const f = w.followUp;
    if (!f) return 0;
    const lines = f.reRaise ? await this.#reRaised(w, f.reRaise) : [];
    await this.#audit(w, f.cause, f.at);
    try {
      await this.#clearFollowUp(w);
    } catch (error) {
      // Cleared by another run, which logged them.
      if (error instanceof ConcurrencyConflictError) return 0;
      throw error;
    }
    for (const line of lines) log.log(line);
    return lines.length / 2;
  }

  /** The records re-raising each failing result `scope` covered that no other active waiver covers: WaiverExpired + NewFinding. */
  async #reRaised({ id, revision }: WaiverRecord, { reason, endedAt, scope }: NonNullable<WaiverFollowUp['reRaise']>): Promise<string[]> {
    // This waiver is in force only as a change leaves it, whose new scope still covers what it covers.
    const others = await this.active();
    const lines: string[] = [];
    for (const r of await this.#failing(scope)) {
      if (!waiverMatches(scope, r.server) || coverOf(others, r.server, r.ruleId)) continue;
      // A finding that began once the waiver no longer covered it alerted when it was projected
      // (coverage goes by when a finding began): at its expiry, or at the end or change, whose
      // follow-up may run late.
      if (r.firstSeen >= (reason === 'expired' ? scope.expiresAt : endedAt)) continue;
      lines.push(
        formatLogRecord(LOG_RECORDS.waiverExpired, { server: r.server, rule: r.ruleId, waiverId: id, reason, status: r.status }),
        formatLogRecord(LOG_RECORDS.newFinding, {
          server: r.server,
          rule: r.ruleId,
          status: r.status,
          reasonCode: r.reasonCode,
          previousStatus: r.previousStatus ?? null,
          waived: false,
          waiverId: null,
          cause: `waiver-${reason}`,
          endedAt: isoInstant(endedAt),
          // One per finding and waiver change (the change's follow-up runs once), for the alert rules' de-duplication.
          recordId: alertRecordId({ server: r.server, ruleId: r.ruleId, snapshotId: `${id}.r${revision}`, firstSeen: r.firstSeen, status: r.status }),
        }),
      );
    }
    return lines;
  }

  /** Warning and Error results of the waiver's rule, from the rule index (or the one server's partition). */
  async #failing(w: WaiverScope): Promise<ResultSummary[]> {
    const ids = this.deps.rules.map((r) => r.id);
    const out: ResultSummary[] = [];
    let token: string | undefined;
    for (let pages = 0; pages < 1000; pages++) {
      // Only the summary's columns (the records this logs carry no message).
      const page = await this.deps.store.listResults({ server: w.server, ruleId: w.ruleId, statuses: FINDING_STATUSES }, ids, 1000, token, 'en');
      out.push(...page.items);
      token = page.continuationToken;
      if (!token) break;
    }
    return out;
  }

  async #audit(w: WaiverRecord, cause: string, at: number): Promise<void> {
    const named = w.server ?? w.serverPattern ?? '';
    const e: EventRecord = {
      server: w.server ?? '',
      ruleId: w.ruleId,
      ruleVersion: '',
      toStatus: '',
      reasonCode: '',
      severity: '',
      message: {
        // Who ended a waiver is not known (a deletion carries no body, an expiry has no actor): its
        // record names who granted it as that, never as the one who ended it.
        en:
          cause === 'waiver-created' || cause === 'waiver-changed'
            ? `Waiver ${w.id} ${cause.slice('waiver-'.length)} for ${named} by ${w.grantedBy}: ${w.justification}`
            : `Waiver ${w.id} ${cause.slice('waiver-'.length)} for ${named} (granted by ${w.grantedBy}): ${w.justification}`,
        ja: `免除 ${w.id} (${cause}) ${named}: ${w.justification}`,
      },
      firstSeen: at,
      snapshotId: `${w.id}.r${w.revision}`,
      recordedAt: this.deps.clock(),
      cause,
      waiverId: w.id,
      detail: JSON.stringify(waiverView(w, at)),
    };
    await this.deps.events.putEvents([e]);
  }
}

/** The one server a waiver names: one that counts, a removed one, or an FQDN that has not posted yet. */
interface NamedServer {
  readonly id: string;
  readonly posted: 'counts' | 'removed' | 'not-yet';
}

/** A waiver of one server covers it, or (removed, or not posted yet) no server known now. */
function serverCoverage({ id, posted }: NamedServer): WaiverCoverage {
  if (posted === 'counts') return { servers: 1, atLeast: false, warnings: [] };
  const message =
    posted === 'removed'
      ? `Server "${id}" was removed from the fleet, so the waiver covers no server known now; it is stored and covers that server again if it posts under that id.`
      : `No server "${id}" has posted yet, so the waiver covers no server known now; it is stored and covers that server once it posts under that id.`;
  return { servers: 0, atLeast: false, warnings: [{ code: 'covers_no_server', message }] };
}
