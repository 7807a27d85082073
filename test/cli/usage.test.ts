// A wrong command line is told in one sentence, as the commands' own problems are, then the
// command's help, exit 2: Node's argument parser words its errors in up to three sentences (or
// quotes "-x" without closing the quote), so they are put in the CLI's words.
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t), read: async () => Buffer.from('') });
  return { code, out, err };
}

describe('fleet-posture usage errors', () => {
  it.each<[string[], string]>([
    [['evaluate', '-x'], 'fleet-posture evaluate: unknown option -x (a file name that begins with "-" goes after "--")'],
    [['import-reg', 'a.reg', '--host', '-bad'], 'fleet-posture import-reg: --host needs a value (one that begins with "-" is written --host=-value)'],
    [['import-reg', 'a.reg', '--host'], 'fleet-posture import-reg: --host needs a value (one that begins with "-" is written --host=-value)'],
    [['evaluate', '--evidence=yes', 'x.json'], 'fleet-posture evaluate: --evidence takes no value'],
    [['manifest', 'extra'], 'fleet-posture manifest: manifest takes no arguments'],
    [['import-reg', 'a.reg', '--code-page', '437'], 'fleet-posture import-reg: --code-page must be one of 874, 932, 936, 949, 950, 1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258, not "437"'],
    // Names every object has (Object.prototype's) are no schema's: not "{}" printed, nor a stack.
    ...['constructor', '__proto__', 'toString', 'hasOwnProperty'].map((name): [string[], string] => [['schema', name], 'fleet-posture schema: schema takes one name: snapshot or manifest']),
    [['import-reg', 'a.reg', '--code-page', 'sjis'], 'fleet-posture import-reg: --code-page must be one of 874, 932, 936, 949, 950, 1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258, not "sjis"'],
  ])('%j: one sentence, then the help, exit 2', async (argv, sentence) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    const [first, second] = r.err.split('\n');
    expect(first).toBe(sentence);
    expect(second).toMatch(/^Usage: fleet-posture /);
  });

  it('no command at all: says so on stderr, with the usage, exit 2', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.split('\n')[0]).toBe('fleet-posture: name a command');
    expect(r.err).toContain('Usage: fleet-posture <command> [options]');
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])('%j, a name every object has, is an unknown command like any other: exit 2, no stack', async (name) => {
    for (const argv of [[name], [name, '--help']]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.split('\n')[0]).toBe(`fleet-posture: unknown command ${JSON.stringify(name)}`);
      expect(r.err).not.toMatch(/\bat /);
    }
  });
});
