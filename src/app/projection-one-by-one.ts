// The projector's pass after a batch failed with an error that is not an outage: the batch's
// entries again one at a time, so an entry that cannot be projected (a bug, or an entry written by
// another release) stops only itself and is set aside (held-entries.ts), while an outage stops the
// run with every entry kept for the next one.
import type { OutboxStore, StoredOutboxEntry } from '../store';
import { bucketOf, ConcurrencyConflictError, COUNT_SHARDS, isAccessDenied, isTransient, LeaseLostError, settleBounded as inParallel } from '../store';
import type { AlertLog } from './alert-log';
import { workOf, type HeldEntries, type Ready } from './held-entries';
import type { ProjectionAlerts } from './projection-alerts';
import { readingFirst, type ProjectionWork } from './projection-work';
import type { ProjectionWrites } from './projection-writes';
import type { ProjectorLease } from './projector-lease';

/**
 * Errors that stop the run, every entry kept for the next one: storage down or throttling, access
 * refused (a role scoped wrongly), a contended write, or the lease lost. Projecting entries one by
 * one would not get past them.
 */
export const stopsTheRun = (error: unknown): boolean => isTransient(error) || isAccessDenied(error) || error instanceof ConcurrencyConflictError || error instanceof LeaseLostError;

/** An error's first line, bounded: what a held entry and the failure record carry. */
export const firstLine = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).split('\n')[0]!.slice(0, 500);

/**
 * Entries tried one at a time, first, before the one-by-one pass goes on side by side: when they
 * all fail alike and none succeeded, the cause is not in the entries (a deploy bug, a setting) and
 * setting the whole outbox aside would only bury it.
 */
const PROBES = 3;
/**
 * Where the probes are taken: the batch's first server, its middle and its last. Were they the
 * first few, a handful of entries that cannot be projected and sort first (one bug hit by those
 * servers only, or entries another release wrote) would look global and stop every run in the same
 * place, holding every later entry back for good; a cause that is global fails at every place alike.
 */
export const probePositions = (lists: number): number[] => (lists <= 0 ? [] : [...new Set(Array.from({ length: PROBES }, (_, i) => Math.round((i * (lists - 1)) / (PROBES - 1))))]);
/**
 * Servers tried after the first, middle and last all failed alike, before the run stops. Any fixed
 * set of places can hold bad entries, and a run that stops reads the same batch again, so those
 * places alone would stop every run for good; a few taken at random differ from run to run, while a
 * global cause fails them too and costs only these few more attempts.
 */
const FURTHER_PROBES = 3;
/** Up to FURTHER_PROBES distinct places, drawn with `random` (in [0, 1)), among those not probed yet. */
export const furtherProbes = (lists: number, probed: ReadonlySet<number>, random: () => number = Math.random): number[] => {
  const left = Array.from({ length: lists }, (_, at) => at).filter((at) => !probed.has(at));
  const picked: number[] = [];
  while (picked.length < FURTHER_PROBES && left.length > 0) picked.push(left.splice(Math.min(left.length - 1, Math.floor(random() * left.length)), 1)[0]!);
  return picked;
};
const kindOf = (error: unknown): string => (error instanceof Error ? `${error.name}|${(error as { code?: unknown }).code ?? ''}` : typeof error);

/**
 * Items of one server each, grouped by the shard of the counts rows their server's writes update
 * (the rule index's and drift's, both picked by the server): groups go side by side, each one's
 * items one after another. Servers of one shard written side by side would contend for those rows
 * under their ETags, and a large batch has many, until one gives up and stops the run. Drift's
 * shard of a server is its rule-index shard (as many shards, the same hash; a test holds them
 * equal), so one key keeps apart every pair of servers that share either.
 */
const byShard = <T>(items: readonly T[], serverOf: (item: T) => string): T[][] => {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const shard = bucketOf(serverOf(item), COUNT_SHARDS);
    const group = groups.get(shard);
    if (group) group.push(item);
    else groups.set(shard, [item]);
  }
  return [...groups.values()];
};
/** A group's items one after another. */
const inTurn = <T>(each: (item: T) => Promise<void>) => async (items: readonly T[]) => {
  for (const item of items) await each(item);
};

export interface OneByOneDeps {
  readonly outbox: OutboxStore;
  readonly writes: ProjectionWrites;
  readonly alerts: ProjectionAlerts;
  readonly held: HeldEntries;
  /** Servers tried side by side (default 16). */
  readonly parallel?: number;
}

export interface OneByOneOutcome {
  projected: number;
  held: number;
  events: number;
  alertRecords: number;
}

/**
 * The failed batch's entries again one at a time, each server's in commit order and servers side
 * by side, so an entry that cannot be projected stops only itself. That one is set aside with its
 * error; its server's later entries go on, reading where its rows are first (the moves of the
 * entry set aside never happened). Everything written is keyed by the change, so what the failed
 * batch wrote already is written again alike. Only an entry that fails while others succeed is
 * set aside: when the entries probed across the batch (PROBES, then FURTHER_PROBES) fail alike, or
 * every entry fails, the run stops and keeps them all (ProjectionFailed says why).
 */
export async function projectOneByOne(
  deps: OneByOneDeps,
  ready: readonly Ready[],
  drop: readonly StoredOutboxEntry[],
  droppedStaged: readonly ProjectionWork[],
  lease: ProjectorLease,
  log: AlertLog,
): Promise<OneByOneOutcome> {
  const { outbox, writes, alerts, held } = deps;
  const parallel = deps.parallel ?? 16;
  await writes.raw([], droppedStaged);
  await outbox.remove(drop);
  const byServer = new Map<string, Ready[]>();
  for (const r of ready) byServer.set(r.entry.server, [...(byServer.get(r.entry.server) ?? []), r]);
  const lists = [...byServer.values()];
  const outcome: OneByOneOutcome = { projected: 0, held: 0, events: 0, alertRecords: 0 };
  /** The first entry of a server that failed, and its server's entries after it (not tried yet). */
  const failed: { r: Ready; error: unknown; rest: Ready[] }[] = [];
  const project = async (r: Ready, behindHeld: boolean) => {
    await lease.keep();
    const w = behindHeld ? readingFirst(r.work) : workOf(r);
    await writes.project([w], [], log, lease.generation);
    outcome.alertRecords += await alerts.log([w], log, new Set(r.entry.requeued ? [r.entry.commitId] : []));
    await outbox.remove([r.entry]);
    outcome.projected++;
    outcome.events += w.events.length;
  };
  /** A server's entries in order until one fails; the rest wait until it is known whether to hold it. */
  const tryList = async (list: readonly Ready[]) => {
    for (let i = 0; i < list.length; i++) {
      try {
        await project(list[i]!, false);
      } catch (error) {
        if (stopsTheRun(error)) throw error;
        failed.push({ r: list[i]!, error, rest: list.slice(i + 1) });
        return;
      }
    }
  };
  // One after another until one succeeds: a success means the cause is not global.
  const probed = new Set<number>();
  const failedAlike = () => outcome.projected === 0 && failed.length >= PROBES && failed.every((f) => kindOf(f.error) === kindOf(failed[0]!.error));
  for (const at of probePositions(lists.length)) {
    if (outcome.projected > 0) break;
    probed.add(at);
    await tryList(lists[at]!);
  }
  if (failedAlike()) {
    for (const at of furtherProbes(lists.length, probed)) {
      probed.add(at);
      await tryList(lists[at]!);
      if (!failedAlike()) break;
    }
  }
  const alike = failedAlike();
  if (!alike) await inParallel(byShard(lists.filter((_, at) => !probed.has(at)), (list) => list[0]!.entry.server), parallel, inTurn(tryList));
  if (outcome.projected === 0 && (alike || failed.length > 1)) {
    log.log(`projector: ${alike ? `the ${failed.length} entries probed across the batch` : `all ${failed.length} entries tried`} failed and none succeeded; the run stops and keeps them (the cause is not in one entry).`);
    throw failed[0]!.error;
  }
  // Others succeeded: each failed entry is set aside, then its server's later entries go on.
  await inParallel(byShard(failed, (f) => f.r.entry.server), parallel, inTurn(async ({ r, error, rest }) => {
    await held.hold(r.entry, firstLine(error), true, log);
    outcome.held++;
    for (const next of rest) {
      try {
        await project(next, true);
      } catch (later) {
        if (stopsTheRun(later)) throw later;
        await held.hold(next.entry, firstLine(later), true, log);
        outcome.held++;
      }
    }
  }));
  return outcome;
}
