// Where a server's Results row says the rule index and the drift must count it: the source of truth
// the projector hands those stores for their read-and-compare fallback. A move replayed after its
// server left (an entry set aside and requeued after a removal, or a projector whose lease lapsed
// mid-batch) finds no member and no anchor there, which looks like a first join; only the row tells
// that the server is gone, or where a newer commit put it.
import { isRemovedRow, type DriftTruth, type IndexTruth, type PostureStore } from '../store';
import { driftMemberOf } from './drift-projection';
import { indexOf } from './result-records';

/** A live row, or null for none (the rule left the rule set) or a removal marker. */
async function liveRow(store: PostureStore, ruleId: string, server: string) {
  const row = await store.readResultRow(server, ruleId);
  return row && !isRemovedRow(row) ? row : null;
}

/** The index record the row says the server holds; null: it must not be counted. */
export const indexTruthOf =
  (store: PostureStore): IndexTruth =>
  async (ruleId, server) => {
    const row = await liveRow(store, ruleId, server);
    return row && indexOf(row);
  };

/** The drift member the row says the server holds; null: not counted; undefined: the row has no configuration to tell. */
export const driftTruthOf =
  (store: PostureStore): DriftTruth =>
  async (ruleId, server) => {
    const row = await liveRow(store, ruleId, server);
    return row && driftMemberOf(row);
  };
