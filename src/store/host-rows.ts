// The rules of a Hosts row write, shared by the one-server path and the batch: a row that already
// reflects a newer snapshot (larger LastCollectedAt) stays; otherwise the new facts replace it under
// its ETag, keeping the earliest first-seen time; a missing row is created.
import { ms } from './columns';
import type { HostRecord } from './records';

/** What a write needs to know of the row there now. */
export interface HostRowState {
  readonly firstSeen: number;
  readonly lastCollectedAt: number;
  readonly etag: string;
}

/** A row to write: with `etag` it replaces the row still at that ETag; without, it must not exist yet. */
export interface HostWrite {
  readonly record: HostRecord;
  readonly etag?: string;
}

/** The earlier of two first-seen times, a missing one (0) aside. */
const earliest = (a: number, b: number): number => (!a ? b : !b ? a : Math.min(a, b));

/** The columns a write compares against, from a Hosts row (the whole row or just those columns). */
export function hostState(row: Readonly<Record<string, unknown>>): HostRowState {
  return { firstSeen: ms(row, 'FirstSeen') ?? 0, lastCollectedAt: ms(row, 'LastCollectedAt') ?? 0, etag: String(row.etag) };
}

/** The write `host` calls for against the row now (undefined: none, the row reflects a newer snapshot). */
export function hostWrite(host: HostRecord, now: HostRowState | undefined): HostWrite | undefined {
  if (!now) return { record: host };
  if (now.lastCollectedAt > host.lastCollectedAt) return undefined;
  return { record: { ...host, firstSeen: earliest(now.firstSeen, host.firstSeen) }, etag: now.etag };
}

/**
 * One record per server: the newest snapshot's facts (the later one in the list on a tie, as
 * writes one after another would leave it), with the earliest first-seen time of any of them.
 */
export function newestPerServer(hosts: readonly HostRecord[]): HostRecord[] {
  const out = new Map<string, HostRecord>();
  for (const h of hosts) {
    const prev = out.get(h.server);
    const newer = !prev || h.lastCollectedAt >= prev.lastCollectedAt ? h : prev;
    out.set(h.server, prev ? { ...newer, firstSeen: earliest(prev.firstSeen, h.firstSeen) } : h);
  }
  return [...out.values()];
}
