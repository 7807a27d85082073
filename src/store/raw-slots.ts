// Which of a server's raw-snapshot slots (Snapshots rows) new content goes to. The projector
// writes every body, in commit order per server: one that travels in its outbox entry, and one too
// large for it that its request staged in a row of its own commit attempt (only a commit that
// landed is copied into its slot). So a slot is never written by an attempt that was refused, nor
// by an older entry after a newer one. Slots 2 and 3 were written by requests of older deployments
// (at once, before their commit): they are read, never written, and new content avoids the one
// the Results rows name.

/** Slots of the bodies the projector writes (from outbox entries and staging rows). */
export const PROJECTED_RAW_SLOTS = [0, 1] as const;
/** Slots older deployments' requests wrote themselves (bodies too large for an outbox entry); read only. */
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
