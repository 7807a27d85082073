// The projector's lease generation as a fence on the tables it keeps counts in (the rule index,
// drift). A projector whose lease lapsed in a long batch learns it only at its next renewal; until
// then its writes must not undo what the projector that took over wrote. Each fenced transaction
// rewrites a row of its shard under the ETag it was read with and stamps it with the writer's
// generation, so a write under an older generation than the row carries is refused before it is
// sent, and one that raced the newer writer fails on the ETag and is read again. A read-and-compare
// that finds nothing to change still stamps the row (stampOwed): a fence only stops writers older
// than one that wrote it.
import { double, num } from './columns';
import type { Entity } from './entities';
import { FencedOutError } from './errors';

/** The column holding the lease generation of the projector that wrote the row last. */
export const FENCE_COLUMN = 'ProjectorFence';

/** The generation the row read was last written under (0: none, or no row). */
const storedFence = (read: Record<string, unknown> | undefined): number => (read ? (num(read, FENCE_COLUMN) ?? 0) : 0);

function refuseOlder(stored: number, fence: number, table: string): void {
  if (stored > fence) throw new FencedOutError(`A projector holding a later lease (${stored}, this one ${fence}) has written ${table}: this one stops.`, stored);
}

/**
 * `entity` to write in place of `read`, stamped with the writer's lease generation; throws
 * FencedOutError when a projector holding a later lease already wrote the row (`table` names it in
 * the message). `fence` left out: no check, and the stored generation is kept.
 */
export function fenced(entity: Entity, read: Record<string, unknown> | undefined, fence: number | undefined, table: string): Entity {
  const stored = storedFence(read);
  if (fence === undefined) return stored > 0 ? { ...entity, [FENCE_COLUMN]: double(stored) } : entity;
  refuseOlder(stored, fence, table);
  return { ...entity, [FENCE_COLUMN]: double(fence) };
}

/**
 * Whether a fenced writer that found nothing to change must still write the row read, only to
 * stamp its generation. A fence refuses only writers older than the last one that wrote the row,
 * so a projector that passed over a shard without writing (a server's first join and its removal
 * in one batch merge into a leave that finds nothing) would leave a stale join from an older
 * projector nothing to meet. False when the row holds this generation already (the usual replay:
 * no extra write) or the writer is not fenced; throws FencedOutError as fenced() does.
 */
export function stampOwed(read: Record<string, unknown> | undefined, fence: number | undefined, table: string): boolean {
  // Stryker disable next-line ConditionalExpression: without it an unfenced writer compares with undefined, which is false both ways, and gets false all the same.
  if (fence === undefined) return false;
  const stored = storedFence(read);
  refuseOlder(stored, fence, table);
  return stored < fence;
}
