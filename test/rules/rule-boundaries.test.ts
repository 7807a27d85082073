// A rule's files are its own: the lint configuration refuses imports of them from anywhere but
// the rule's folder and its tests, and one rule's imports of another's. Checked by linting small
// sources at the paths they would have, with the repository's own configuration.
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(__dirname, '..', '..');
const eslint = new ESLint({ cwd: REPO });

/** The no-restricted-imports messages for `source` placed at `file`. */
async function refusals(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: path.join(REPO, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const use = (from: string) => `import { x } from '${from}';\nexport const y = x;\n`;

describe("a rule's files are its own", () => {
  it.each([
    ['src/app/probe.ts', '../rules/mcafee-port25-blocked/process-match'],
    ['src/store/probe.ts', '../rules/mcafee-port25-blocked/locations'],
    ['src/cli/probe.ts', '../rules/mcafee-port25-blocked/texts'],
    ['src/rules/probe.ts', './mcafee-port25-blocked/config'],
    ['src/rules/another-rule/index.ts', '../mcafee-port25-blocked/process-match'],
    ['src/rules/another-rule/index.ts', '../mcafee-port25-blocked'],
    ['src/rules/common/probe.ts', '../mcafee-port25-blocked/product'],
    ['test/service/probe.test.ts', '../../src/rules/mcafee-port25-blocked/access-log'],
    ['bench/probe.ts', '../src/rules/mcafee-port25-blocked/observed-blocks'],
  ])('%s may not import %s', async (file, from) => {
    const found = await refusals(file, use(from));
    expect(found.join(' ')).toMatch(/rule's files are its own|another rule's files/);
  });

  it.each([
    ['src/app/probe.ts', '../rules/common/glob'],
    ['src/app/probe.ts', '../rules/registry'],
    ['src/app/probe.ts', '../rules/types'],
    ['src/rules/probe.ts', './mcafee-port25-blocked'],
    ['src/rules/probe.ts', './common/smtp-services'],
    ['src/rules/another-rule/index.ts', '../common/glob'],
    ['src/rules/another-rule/index.ts', '../types'],
    ['src/rules/another-rule/index.ts', '../../snapshot/normalise'],
    ['src/rules/another-rule/index.ts', './own-helper'],
    ['test/rules/mcafee-port25-blocked/probe.test.ts', '../../../src/rules/mcafee-port25-blocked/access-log'],
    ['test/rules/probe.test.ts', '../../src/rules/common/glob'],
  ])('%s may import %s', async (file, from) => {
    expect(await refusals(file, use(from))).toEqual([]);
  });

  it('rules stay pure: no storage, Azure or HTTP', async () => {
    expect((await refusals('src/rules/another-rule/index.ts', use('../../store'))).join(' ')).toMatch(/pure/);
    expect((await refusals('src/rules/common/probe.ts', use('@azure/data-tables'))).join(' ')).toMatch(/pure/);
  });
});
