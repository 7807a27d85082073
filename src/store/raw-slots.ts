// Which of a server's raw-snapshot slots (Snapshots rows) new content goes to. Two writers fill
// them: the projector writes bodies that travel in outbox entries, in commit order per server; a
// request writes a body too large for its entry itself, at once. Each has its own pair of slots, so
// a projection of an older entry still waiting can never replace a newer body a request wrote, and
// readers take the newest row of all four.

/** Slots of bodies the projector writes (from outbox entries). */
export const PROJECTED_RAW_SLOTS = [0, 1] as const;
/** Slots of bodies a request writes itself (too large for an outbox entry). */
export const DIRECT_RAW_SLOTS = [2, 3] as const;

export type RawSlotPair = typeof PROJECTED_RAW_SLOTS | typeof DIRECT_RAW_SLOTS;

/** A stored slot number as written; anything else (an older row without one) counts as slot 0. */
export function rawSlotOf(slot: number | undefined): number {
  return slot === 1 || slot === 2 || slot === 3 ? slot : 0;
}

/**
 * The slot of `pair` for new content, given the slot the server's previous content went to
 * (ResultRecord.rawSlot). Only that previous content must survive (the newest two are kept): when
 * it is in this pair, the other slot of the pair; when it is in the other pair, either slot of
 * this one would do (the first).
 */
export function nextRawSlot(pair: RawSlotPair, previous: number | undefined): number {
  const last = previous === undefined ? undefined : rawSlotOf(previous);
  return last === pair[0] ? pair[1] : pair[0];
}
