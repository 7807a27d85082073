// `npm run mutation:routes`: the route table (src/app/routes.ts) against the tests that check it,
// its unit test and the docs tests that hold docs/api.md's table to it. It is not in the main run:
// the table is built as its module loads, so nearly all its 233 mutants are static, and there each
// would run every mutation test (about 1,300; by estimate an hour or more on 2 cores); here each
// runs these two files (about three minutes).
import base from './stryker.config.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default { ...base, mutate: ['src/app/routes.ts'], vitest: { ...base.vitest, configFile: 'vitest.mutation-routes.config.mts' } };
