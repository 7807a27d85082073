// The fast log scan must return exactly what the full scan returns, whatever the tail holds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_LINE_CHARS, parseAccessLog, type LineFilter } from '../../../src/rules/mcafee-port25-blocked/access-log';
import { candidateLineStarts, parseAccessLogNaming } from '../../../src/rules/mcafee-port25-blocked/access-log-naming';
import { fileNameOf } from '../../../src/rules/common/glob';
import { propertyRuns } from '../../support/property-runs';

const RUNS = { numRuns: propertyRuns(500), seed: 20261129 } as const;

/** What observed-blocks used to pass to the full scan. */
const reference = (names: ReadonlySet<string>, wanted?: LineFilter): LineFilter => (p, port) => names.has(fileNameOf(p).toLowerCase()) && (wanted === undefined || wanted(p, port));
const on25: LineFilter = (_p, port) => port === 25;

describe('the Unicode facts the fast scan relies on', () => {
  it('only İ and the Kelvin sign lower-case from outside ASCII to something holding ASCII', () => {
    const found: string[] = [];
    for (let cp = 0x80; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const lower = String.fromCodePoint(cp).toLowerCase();
      for (let i = 0; i < lower.length; i++) {
        if (lower.charCodeAt(i) < 0x80) {
          found.push(cp.toString(16));
          break;
        }
      }
    }
    expect(found).toEqual(['130', '212a']);
  });
  it('a non-Unicode /i regular expression never matches an ASCII letter with a non-ASCII code unit', () => {
    const letters = /[a-z]/i;
    const matched: string[] = [];
    for (let cu = 0x80; cu <= 0xffff; cu++) if (letters.test(String.fromCharCode(cu))) matched.push(cu.toString(16));
    expect(matched).toEqual([]);
  });
});

describe('candidate lines', () => {
  const line = (proc: string, rule = 'R'): string => `11/27/2026\t4:12:07 PM\tBlocked by port blocking rule \t${proc}\t${rule}\t192.0.2.1:25`;
  it('finds the lines naming an image in any ASCII case, once each, in file order', () => {
    const lines = [line('C:\\X\\MAILER.EXE'), line('C:\\X\\EdgeTransport.exe', 'inetinfo.exe edgetransport.exe'), 'garbage', line('INETINFO.EXE')];
    const tail = lines.join('\r\n');
    const starts = candidateLineStarts(tail, new Set(['edgetransport.exe', 'inetinfo.exe']));
    const offset = (k: number): number => lines.slice(0, k).reduce((n, l) => n + l.length + 2, 0);
    expect(starts).toEqual([offset(1), offset(3)]);
  });
  it.each([
    ['a Kelvin sign in the tail', 'C:\\X\\WOR\u212a.EXE', new Set(['work.exe'])],
    ['a name outside ASCII', 'C:\\X\\Σ.EXE', new Set(['σ.exe'])],
    ['an empty name', 'C:\\X\\', new Set([''])],
  ])('falls back to the full scan for %s', (_why, proc, names) => {
    const tail = line(proc);
    expect(candidateLineStarts(tail, names)).toBeUndefined();
    expect(parseAccessLogNaming(tail, names, on25)).toEqual(parseAccessLog(tail, reference(names, on25)));
    expect(parseAccessLogNaming(tail, names, on25)).toHaveLength(1);
  });
});

// Tails built from the pieces that make scanning hard: names in mixed case, 'İ' (two code units
// when lower-cased), the Kelvin sign, sigmas, quotes and blanks round the process, '/' and '\'
// separators, an image named in another field, CRLF and LF, over-long lines, garbage.
const NAMES = ['edgetransport.exe', 'msexchangefrontendtransport.exe', 'inetinfo.exe', 'work.exe', 'σς.exe', 'i\u0307x.exe', ''];
const OTHERS = ['', 'MAILER1.EXE', 'xedgetransport.exe', 'edgetransport.exe.bak', 'EDGETRANSPORT', 'İNETİNFO.EXE', 'WOR\u212a.EXE', 'ΣΣ.EXE', 'İX.EXE'];

const mixedCase = (name: string): fc.Arbitrary<string> =>
  fc.array(fc.integer({ min: 0, max: 7 }), { minLength: name.length, maxLength: name.length }).map((flags) =>
    // 'İ' lower-cases to "i\u0307": spell such a name with it half of the time.
    [...((flags[0] ?? 0) >= 4 ? name.replace('i\u0307', 'İ') : name)]
      .map((ch, i) => {
        const f = flags[i] ?? 0;
        if (f === 7 && ch === 'k') return '\u212a';
        if (f === 7 && ch === 'i') return 'İ';
        return f % 2 === 1 ? ch.toUpperCase() : ch;
      })
      .join(''),
  );

const processField = (imgs: readonly string[]): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.constantFrom('', 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\', 'C:/x/', '"C:\\x y\\', ' ', '\ufeff'),
      fc.oneof(fc.constantFrom(...imgs).chain(mixedCase), fc.constantFrom(...NAMES).chain(mixedCase), fc.constantFrom(...OTHERS)),
      fc.constantFrom('', '"', ' ', '\u00a0', '" "', '\ufeff'),
    )
    .map(([a, b, c]) => a + b + c);

const structured = (imgs: readonly string[]): fc.Arbitrary<string> =>
  fc
    .record({
      date: fc.constantFrom('11/27/2026', '2026/11/28', '2/30/2026'),
      time: fc.constantFrom('4:12:07 PM', '7:41:03', '1:00:00 午後'),
      action: fc.constantFrom('Blocked by port blocking rule ', 'Would be blocked by port blocking rule  (rule is currently not enforced) ', 'ポート ブロック ルールによってブロックされました', 'Blocked by Access Protection rule '),
      proc: processField(imgs),
      rule: fc.oneof(fc.constant('Anti-virus Standard Protection:Prevent mass mailing worms from sending mail'), processField(imgs), fc.constant('x'.repeat(MAX_LINE_CHARS))),
      target: fc.constantFrom('192.0.2.1:25', '192.0.2.1:25', '192.0.2.1:587', '[::1]:25 ', ''),
      extra: fc.constantFrom([], ['EdgeTransport.exe'], ['']),
      cr: fc.boolean(),
    })
    .map((l) => [l.date, l.time, l.action, l.proc, l.rule, l.target, ...l.extra].join('\t') + (l.cr ? '\r' : ''));

const garbage = fc.string({ unit: fc.constantFrom('a', 'E', 'x', '.', '\t', '\\', '"', ' ', '\r', 'İ', 'Σ', 'k', '\u212a', 'edgetransport.exe', 'INETINFO.EXE'), maxLength: 12 });

const ASCII_NAMES = NAMES.slice(0, 4);
/** The images looked for, and a tail that often names them. */
const scenario = fc
  .oneof({ weight: 3, arbitrary: fc.uniqueArray(fc.constantFrom(...ASCII_NAMES), { minLength: 1, maxLength: 3 }) }, { weight: 1, arbitrary: fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }) })
  .chain((imgs) =>
    fc.record({
      names: fc.constant(new Set(imgs)),
      tail: fc.array(fc.oneof({ weight: 4, arbitrary: structured(imgs) }, { weight: 1, arbitrary: garbage }), { maxLength: 8 }).map((ls) => ls.join('\n')),
      only25: fc.boolean(),
    }),
  );

describe('parseAccessLogNaming', () => {
  it('returns exactly what the full scan with the same filter returns', () => {
    let fast = 0;
    let kept = 0;
    fc.assert(
      fc.property(scenario, ({ tail: t, names: ns, only25 }) => {
        const wanted = only25 ? on25 : undefined;
        const got = parseAccessLogNaming(t, ns, wanted);
        expect(got).toEqual(parseAccessLog(t, reference(ns, wanted)));
        if (candidateLineStarts(t, ns) !== undefined) fast++;
        if (got.length > 0) kept++;
      }),
      RUNS,
    );
    // The generator is only useful if it takes the fast path and finds lines often.
    expect(fast).toBeGreaterThan(RUNS.numRuns / 4);
    expect(kept).toBeGreaterThan(RUNS.numRuns / 4);
  });
});

describe('short names', () => {
  it('a one-letter name found at the end of a line goes on with the next line', () => {
    // Lines cut short after the process, so the name is the last character before the line break.
    const line = (proc: string) => `2026/11/26\t15:42:10\tBlocked by port blocking rule \t${proc}`;
    const tail = `${line('C:\\Y\\x')}\n${line('C:\\Z\\x')}\nx`;
    expect(parseAccessLogNaming(tail, new Set(['x'])).map((l) => l.process)).toEqual(['C:\\Y\\x', 'C:\\Z\\x']);
  });
});
