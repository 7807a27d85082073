// Baselines: an admin names one server whose configuration the rest of the fleet is measured
// against for a rule (as ExBPA's baseline scan did), instead of the largest cluster. Every change
// is audited as an event (cause baseline-set, baseline-changed, baseline-deleted), like waivers.
import type { Rule } from '../rules/types';
import { answeredAfterLostAnswer, backOff, CONTENDED_ATTEMPTS, ConcurrencyConflictError, type DriftBaseline, type DriftStore, type EventRecord, type EventStore, type StoredBaseline } from '../store';
import type { AlertLog } from './alert-log';
import { ApiError, messageOf } from './errors';
import { marked, newMark } from './own-writes';
import { changedMeanwhile, inForceAlready, revisionEtag, staleIfMatch, type Precondition } from './preconditions';
import type { ServerNames } from './server-names';
import { readBaselineBody } from './baseline-body';

export interface BaselinesDeps {
  readonly drift: DriftStore;
  readonly events: EventStore;
  readonly rules: readonly Rule[];
  readonly clock: () => number;
  /** Turns the body's "server" (id or host name) into the id; one that names no server is refused. */
  readonly names: ServerNames;
}

const invalid = (message: string) => new ApiError('invalid_baseline', message);

export const BASELINE_CAUSES = ['baseline-set', 'baseline-changed', 'baseline-deleted'] as const;

/**
 * Whether the row holds the change `written` that request `run` stored. The previous release names no
 * writers, and during a rolling deployment it replaces the row without them (clearing an owed audit
 * event keeps the change as it is): a row without writers is judged by its content, as that release
 * judges it (its revision, server, who and when).
 */
function holdsWrite(row: DriftBaseline | undefined, run: string, written: DriftBaseline): boolean {
  if (!row) return false;
  if (row.writers) return marked(row.writers, run);
  return row.revision === written.revision && row.server === written.server && row.setBy === written.setBy && row.setAt === written.setAt;
}

export class Baselines {
  constructor(private readonly deps: BaselinesDeps) {}

  /** The rule from the path, when it declares configuration facts. */
  rule(ruleId: string): Rule {
    const lower = ruleId.toLowerCase();
    const rule = this.deps.rules.find((r) => r.id === lower);
    if (!rule) throw new ApiError('not_found', `There is no rule "${ruleId.slice(0, 100)}"; the rules are ${this.deps.rules.map((r) => r.id).join(', ')}.`);
    if (!rule.configurationFacts) throw invalid(`The rule "${rule.id}" declares no configuration facts, so it can have no baseline.`);
    return rule;
  }

  /** The rule's baseline row: server '' when cleared, undefined when none was ever named. */
  async get(ruleId: string): Promise<StoredBaseline | undefined> {
    return this.deps.drift.getBaseline(this.rule(ruleId).id);
  }

  /**
   * Names the baseline; `created` tells 201 (none was named) from 200 (another server was).
   * `createOnly` (If-None-Match: *) refuses where a baseline is named, the same server included.
   */
  async put(ruleId: string, doc: unknown, log: AlertLog, precondition?: Precondition, createOnly = false): Promise<{ created: boolean; baseline: StoredBaseline }> {
    const rule = this.rule(ruleId);
    const checked = readBaselineBody(doc);
    const input = { ...checked, server: await this.deps.names.resolve(checked.server, 'invalid_baseline') };
    const member = await this.deps.drift.getMember(rule.id, input.server);
    if (!member) throw invalid(`Server "${input.server}" has no configuration recorded for ${rule.id}; it must post a snapshot before it can be the baseline.`);
    const { before, written } = await this.#change(rule.id, precondition, log, (existing) => {
      const live = existing !== undefined && existing.server !== '';
      if (live && createOnly) throw inForceAlready(`The baseline of ${rule.id}`, revisionEtag(existing));
      if (live && existing.server === input.server) return undefined;
      const next = { ruleId: rule.id, server: input.server, setBy: input.setBy, setAt: this.deps.clock(), revision: (existing?.revision ?? 0) + 1 };
      return { ...next, auditOwed: this.#event(live ? 'baseline-changed' : 'baseline-set', next, live ? existing.server : undefined, member.fingerprint) };
    });
    const wasLive = before !== undefined && before.server !== '';
    return written ? { created: !wasLive, baseline: { ...written, auditOwed: undefined, etag: '' } } : { created: false, baseline: before! };
  }

  /** Clears the baseline (drift is measured against the largest cluster again); undefined when none was named. */
  async remove(ruleId: string, log: AlertLog, precondition?: Precondition): Promise<StoredBaseline | undefined> {
    const rule = this.rule(ruleId);
    const { before, written } = await this.#change(rule.id, precondition, log, (existing) => {
      if (!existing || existing.server === '') return undefined;
      const cleared = { ruleId: rule.id, server: '', setBy: existing.setBy, setAt: this.deps.clock(), revision: existing.revision + 1 };
      return { ...cleared, auditOwed: this.#event('baseline-deleted', { ...cleared, server: existing.server }, undefined, undefined) };
    }, true);
    return written && before ? { ...before, revision: written.revision } : undefined;
  }

  /**
   * Decides a change on the baseline as stored (`decide` answers undefined when there is nothing to
   * change) and stores it under the row's ETag. A change another admin stored meanwhile is never
   * overwritten unseen: the change is decided again on what is there now, so its audit event names
   * the server it really replaces, and If-Match is checked again on that (412 once the revision
   * moved on). Without If-Match the caller asked for the outcome whatever was there, so deciding
   * again is what it asked for and a 503 would only make it send the same request. A write whose
   * answer was lost but that landed is known by this request's name among the row's writers (not
   * by its content, which another admin's identical change shares), also once another change
   * replaced it meanwhile, and is answered as this request's, never stored twice. A deletion
   * checks If-Match only on a named baseline: with none there is nothing to guard (404).
   */
  async #change(
    ruleId: string,
    precondition: Precondition | undefined,
    log: AlertLog,
    decide: (existing: StoredBaseline | undefined) => (DriftBaseline & { readonly auditOwed: EventRecord }) | undefined,
    deleting = false,
  ): Promise<{ before: StoredBaseline | undefined; written?: DriftBaseline }> {
    let tried: { before: StoredBaseline | undefined; written: DriftBaseline; run: string } | undefined;
    for (let attempt = 1; ; attempt++) {
      const existing = await this.#settled(ruleId);
      if (tried && holdsWrite(existing, tried.run, tried.written)) return tried;
      const etag = revisionEtag(existing ?? { revision: 0 });
      const guarded = !deleting || (existing !== undefined && existing.server !== '');
      if (precondition && guarded && !precondition(etag)) throw tried ? changedMeanwhile(`The baseline of ${ruleId}`) : staleIfMatch(`The baseline of ${ruleId}`, etag);
      const decided = decide(existing);
      if (!decided) return { before: existing };
      const { run, marks } = newMark(existing?.writers);
      const next = { ...decided, writers: marks };
      tried = { before: existing, written: next, run };
      try {
        await this.#store(next, existing?.etag, log);
        return tried;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) {
          // The write may have landed though every answer was lost (no conflict to read it back by):
          // found on the row, it is this request's.
          const stored = await this.deps.drift.getBaseline(ruleId).catch(() => undefined);
          if (stored && holdsWrite(stored, run, next)) return (await this.#auditStored(stored, log), tried);
          throw error;
        }
        if (attempt >= CONTENDED_ATTEMPTS) throw error;
        await backOff(attempt);
      }
    }
  }

  /**
   * The timer's part: writes the audit events baseline changes still owe (one point read per rule
   * with configuration facts). The rules are taken one at a time, so one whose event storage keeps
   * refusing is logged and counted as failed while the others' events are still written; its event
   * stays owed on the row for the next run.
   */
  async writeOwedAudits(log: AlertLog): Promise<{ written: number; failed: number }> {
    const counts = { written: 0, failed: 0 };
    for (const rule of this.deps.rules.filter((r) => r.configurationFacts)) {
      try {
        const b = await this.deps.drift.getBaseline(rule.id);
        if (b && (await this.#writeAudit(b))) counts.written++;
      } catch (error) {
        counts.failed++;
        log.log(`The baseline of ${rule.id}: the waiver-expiry run could not write the audit event it owes (${messageOf(error)}); the next run tries again.`);
      }
    }
    return counts;
  }

  /**
   * The rule's baseline after the audit event its last change owes is written: a change builds on
   * that. A change stored meanwhile may owe its own when the row is read again: that is written
   * too, since a write built on the row replaces the event it owes.
   */
  async #settled(ruleId: string): Promise<StoredBaseline | undefined> {
    let b = await this.deps.drift.getBaseline(ruleId);
    for (let round = 1; b?.auditOwed; round++) {
      if (round > CONTENDED_ATTEMPTS) throw new ConcurrencyConflictError(`The baseline of ${ruleId} kept changing while the audit events its changes owe were written.`);
      await this.#writeAudit(b);
      b = await this.deps.drift.getBaseline(ruleId);
    }
    return b;
  }

  /**
   * Stores a change with its audit event owed, then writes the event. The change stands either way,
   * so a failure of the event does not fail the request (its answer would say nothing was stored):
   * the event stays owed on the baseline row, for its next change or the waiver-expiry timer.
   */
  async #store(b: DriftBaseline & { readonly auditOwed: EventRecord }, etag: string | undefined, log: AlertLog): Promise<void> {
    const stored = await this.deps.drift.putBaseline(b, etag);
    await this.#auditStored({ ...b, etag: stored }, log);
  }

  /** Writes a stored change's audit event; should storage refuse it, the event stays owed on the row. */
  async #auditStored(b: StoredBaseline, log: AlertLog): Promise<void> {
    try {
      await this.#writeAudit(b);
    } catch (error) {
      log.log(`The baseline of ${b.ruleId} (revision ${b.revision}) is stored; its audit event is owed (${messageOf(error)}) and follows with the waiver-expiry job.`);
    }
  }

  /** Writes the owed event (its key is the rule and revision: writing it again replaces it), then clears it from the row by ETag; true when this call cleared it. */
  async #writeAudit(b: StoredBaseline): Promise<boolean> {
    if (!b.auditOwed) return false;
    await this.deps.events.putEvents([b.auditOwed]);
    try {
      await this.deps.drift.putBaseline({ ...b, auditOwed: undefined }, b.etag);
      return true;
    } catch (error) {
      // Cleared by another run, or a newer change settled it first; unless the refusal answered
      // the resend of this clearing after an attempt that got no answer, which most likely landed:
      // then it counts as this run's (a count only; the row is settled either way).
      if (error instanceof ConcurrencyConflictError) return answeredAfterLostAnswer(error);
      throw error;
    }
  }

  #event(cause: (typeof BASELINE_CAUSES)[number], b: { ruleId: string; server: string; setBy: string; setAt: number; revision: number }, previous: string | undefined, fingerprint: string | undefined): EventRecord {
    const what = cause === 'baseline-deleted' ? `cleared (was ${b.server})` : previous ? `changed from ${previous} to ${b.server}` : `set to ${b.server}`;
    const whatJa = cause === 'baseline-deleted' ? `解除 (${b.server})` : previous ? `${previous} から ${b.server} へ変更` : `${b.server} に設定`;
    return {
      server: b.server,
      ruleId: b.ruleId,
      ruleVersion: '',
      toStatus: '',
      reasonCode: '',
      severity: '',
      // A deletion carries no body, so who cleared a baseline is not known: its record names who set it, as that.
      message:
        cause === 'baseline-deleted'
          ? { en: `Drift baseline for ${b.ruleId} ${what}; it was set by ${b.setBy}.`, ja: `${b.ruleId} のドリフト基準を${whatJa} (設定者 ${b.setBy})。` }
          : { en: `Drift baseline for ${b.ruleId} ${what} by ${b.setBy}.`, ja: `${b.ruleId} のドリフト基準を${whatJa} (${b.setBy})。` },
      firstSeen: b.setAt,
      snapshotId: `baseline.r${b.revision}`,
      recordedAt: this.deps.clock(),
      cause,
      detail: JSON.stringify({ rule: b.ruleId, server: cause === 'baseline-deleted' ? null : b.server, previousServer: cause === 'baseline-deleted' ? b.server : (previous ?? null), setBy: b.setBy, revision: b.revision, fingerprint: fingerprint ?? null }),
    };
  }
}
