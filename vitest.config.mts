import { configDefaults, defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { testsWithoutTools } from './scripts/tool-paths.cjs';

/**
 * Files that must not run beside another file. The deployment-package test runs the whole
 * `npm run build`, which rewrites dist/ in place while other files run the built CLI and host
 * and serve the built dashboard from it: a file read there half-written fails that other test.
 */
const ALONE = ['test/infra/deployment-package.test.ts'];

/**
 * Started first. The Pester test runs the whole Pester suite while its file loads (a few minutes
 * of pwsh), which vitest's timing cache does not count, so vitest would start it last and leave
 * it running on one worker after every other file had finished.
 */
const FIRST = ['test/collector/pester.test.ts'];

class FirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const first = (s: TestSpecification) => FIRST.some((f) => s.moduleId.endsWith(`/${f}`));
    return [...sorted.filter(first), ...sorted.filter((s) => !first(s))];
  }
}

const include = ['test/**/*.test.ts'];
// Tests that need PowerShell or the Bicep CLI (npm run tools) are left out, with one line
// saying so, where those are missing; CI sets POSTURE_REQUIRE_TOOLS=1 to fail instead.
const exclude = [...configDefaults.exclude, ...testsWithoutTools()];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // dist/ rebuilt once, if older than the sources, before the files (two at a time) start.
    globalSetup: ['test/support/build-once.ts'],
    // fast-check's seed fixed for every property that names none (POSTURE_PROPERTY_SEED for others);
    // each file closes what it opens (its files share a worker's process, below).
    setupFiles: ['test/support/property-seed.ts', 'test/support/closes-what-it-opens.ts'],
    // The JSON report is what .ci/run counts for its closing line (the Node 22 pass names its own).
    reporters: ['default', ['json', { outputFile: process.env.POSTURE_TEST_REPORT ?? 'test-results/vitest.json' }]],
    // Two files at a time on a 2-core machine (vitest's default, cores - 1, is one): most of a
    // file's time is spent waiting on Azurite, pwsh or Chromium, each a process of its own.
    maxWorkers: 2,
    // A worker's files share its modules instead of importing them afresh (the Azure SDKs above
    // all): imports took about a sixth of the workers' time. So no file may leave process-wide state
    // behind (test/tooling/shared-modules.test.ts); mocks and stubs are undone after each test.
    isolate: false,
    restoreMocks: true,
    unstubEnvs: true,
    unstubGlobals: true,
    sequence: { sequencer: FirstSequencer },
    projects: [
      { extends: true, test: { name: 'parallel', include, exclude: [...exclude, ...ALONE] } },
      // After every file of the group before has finished, one file at a time.
      { extends: true, test: { name: 'alone', include: ALONE, exclude, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
