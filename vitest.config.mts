import { configDefaults, defineConfig } from 'vitest/config';
import { testsWithoutTools } from './scripts/tool-paths.cjs';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests that need PowerShell or the Bicep CLI (npm run tools) are left out, with one line
    // saying so, where those are missing; CI sets POSTURE_REQUIRE_TOOLS=1 to fail instead.
    exclude: [...configDefaults.exclude, ...testsWithoutTools()],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The JSON report is what .ci/run counts for its closing line (the Node 22 pass names its own).
    reporters: ['default', ['json', { outputFile: process.env.POSTURE_TEST_REPORT ?? 'test-results/vitest.json' }]],
  },
});
