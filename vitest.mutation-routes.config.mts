// The tests of `npm run mutation:routes` (stryker.routes.config.mjs): the route table's own unit
// test and the docs tests, which hold every route's path, methods and key to docs/api.md.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/app/routes.test.ts', 'test/docs/repository-docs.test.ts'],
    testTimeout: 30_000,
    setupFiles: ['test/support/property-seed.ts'],
  },
});
