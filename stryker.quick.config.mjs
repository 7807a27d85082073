// `npm run mutation:quick`: the mutation run (stryker.config.mjs) without its static mutants, the
// code that runs as a module loads (the snapshot schema, message tables), each of which would
// reload everything and run every test. They are reported as ignored; mutate a file alone
// (`npx stryker run --mutate <file>`) to test them. The tests are the run's but one
// (vitest.mutation-quick.config.mts says which, and why).
import base from './stryker.config.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default { ...base, ignoreStatic: true, vitest: { ...base.vitest, configFile: 'vitest.mutation-quick.config.mts' } };
