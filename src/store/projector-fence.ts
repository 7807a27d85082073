// The projector's lease generation as a fence on the tables it keeps counts in (the rule index,
// drift). A projector whose lease lapsed in a long batch learns it only at its next renewal; until
// then its writes must not undo what the projector that took over wrote. Each fenced transaction
// rewrites a row of its shard under the ETag it was read with and stamps it with the writer's
// generation, so a write under an older generation than the row carries is refused before it is
// sent, and one that raced the newer writer fails on the ETag and is read again.
import { double, num } from './columns';
import type { Entity } from './entities';
import { FencedOutError } from './errors';

/** The column holding the lease generation of the projector that wrote the row last. */
export const FENCE_COLUMN = 'ProjectorFence';

/**
 * `entity` to write in place of `read`, stamped with the writer's lease generation; throws
 * FencedOutError when a projector holding a later lease already wrote the row (`table` names it in
 * the message). `fence` left out: no check, and the stored generation is kept.
 */
export function fenced(entity: Entity, read: Record<string, unknown> | undefined, fence: number | undefined, table: string): Entity {
  const stored = read ? (num(read, FENCE_COLUMN) ?? 0) : 0;
  if (fence === undefined) return stored > 0 ? { ...entity, [FENCE_COLUMN]: double(stored) } : entity;
  if (stored > fence) throw new FencedOutError(`A projector holding a later lease (${stored}, this one ${fence}) has written ${table}: this one stops.`, stored);
  return { ...entity, [FENCE_COLUMN]: double(fence) };
}
