// The tests of `npm run mutation:quick` (stryker.quick.config.mjs): the mutation run's, but for
// the test that imports every module inside a test. That test reaches every static mutant (code
// that runs as a module loads) from inside a test, so Stryker would run each against it alone,
// where it can never be in effect, and count it a survivor; without it they are left out, as the
// quick run means to (a few that other tests reach are still run so: scripts/mutation-survivors.cjs
// leaves their survivals out).
import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.mutation.config.mts';

export default mergeConfig(base, defineConfig({ test: { exclude: ['test/rules/modules-load.test.ts'] } }));
