// What every use case is built with (create-app.ts wires them): the posture store, the loaded
// rules and the clock. Use cases add what only they need.
import type { Rule } from '../rules/types';
import type { PostureStore } from '../store';

export interface UseCaseDeps {
  readonly store: PostureStore;
  readonly rules: readonly Rule[];
  /** Epoch ms. */
  readonly clock: () => number;
}
