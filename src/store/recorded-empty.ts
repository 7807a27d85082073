// What a process believes of the layout migration's record: whether an older layout is recorded
// empty. Read once and kept for good when it is (the migration leaves nothing there, and readers
// may then skip asking it); while it is not, read again after a while, as the migration may finish
// meanwhile. A record that cannot be read counts as not there: asking the older layout too is
// always right, only dearer.
import { ms } from './columns';
import { readStateRow } from './older-layouts';
import type { SiblingTable } from './sibling-table';

/**
 * How long a process believes an older layout still holds rows before it reads the record again:
 * a read per quarter hour, against a second request on every read that asks the older layout.
 */
export const OLDER_LAYOUTS_RECHECK_MS = 15 * 60_000;

export class RecordedEmpty {
  // Stryker disable next-line ObjectLiteral: an empty record is read the same (not gone, due for a read now).
  #known: { readonly gone: boolean; readonly until: number; readonly read?: Promise<boolean> } = { gone: false, until: 0 };

  /** `column`: the Lifecycle row's column that holds when the layout was found empty. */
  constructor(
    private readonly lifecycle: SiblingTable,
    private readonly column: 'EmptyAt' | 'DriftEmptyAt',
  ) {}

  /** Whether the layout is recorded empty (at most one read in flight; none while the answer is kept). */
  async gone(): Promise<boolean> {
    const known = this.#known;
    if (known.gone) return true;
    if (known.read) return known.read;
    if (Date.now() < known.until) return false;
    const read = readStateRow(this.lifecycle)
      .then((e) => ms(e ?? {}, this.column) !== undefined)
      .catch(() => false)
      .then((gone) => {
        this.#known = { gone, until: Date.now() + OLDER_LAYOUTS_RECHECK_MS };
        return gone;
      });
    this.#known = { ...known, read };
    return read;
  }
}
