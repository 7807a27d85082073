// VSE 8.5–8.8 keep changes to built-in Access Protection rules in `AccessProtectionUserRules`:
// REG_BINARY holding ASCII text, sometimes NUL-terminated. The untouched default is
// `AccessProtection {\r\n}\r\n`. `UserEnforce`/`UserReport` lines are verified; `UserExclude`
// is the project's reference form (how real exclusions are stored was not found).
import type { RegistryValue } from '../../snapshot/schema';
import { MASS_MAILING_ID, type PortRule } from './port-rules';

export const USER_RULES_VALUE = 'AccessProtectionUserRules';

/** Default exclusions of the mass-mailing rule (McAfee Japan FAQ VE04090101). */
export const DEFAULT_MASS_MAILING_EXCLUSIONS: readonly string[] = [
  'agent.exe', 'amgrsrvc.exe', 'eudora.exe', 'inetinfo.exe', 'msimn.exe', 'mozilla.exe', 'netscp.exe',
  'nlnotes.exe', 'ntaskldr.exe', 'nsmtp.exe', 'nrouter.exe', 'outlook.exe', 'opera.exe', 'pine.exe',
  'poco.exe', 'thebat.exe', 'thunderbird.exe', 'tomcat.exe', 'winpm-32.exe',
];

export const MASS_MAILING_NAME = 'Prevent mass mailing worms from sending mail';

/** A user-defined rule found in the value: its settings are not decoded (the encoding is not public). */
export interface UserDefinedRule {
  readonly id: string;
  /** `UserEnforce <id> 0|1`, when present. */
  readonly block: boolean | null;
  readonly report: boolean | null;
  /** How many lines name it. */
  readonly lines: number;
}

export interface UserRules {
  /** The value decoded as text and recognised. */
  readonly ok: true;
  readonly trailingNul: boolean;
  readonly encoding: 'ascii' | 'utf-16le' | 'text';
  /** Last `UserEnforce AVO10` setting, when there is one. */
  readonly enforce?: boolean;
  /** Last `UserReport AVO10` setting, when there is one. */
  readonly report?: boolean;
  readonly userExclusions: readonly string[];
  /** User-defined rules (`UR<n>` ids and `UserString` lines), in order of first appearance. */
  readonly userDefined: readonly UserDefinedRule[];
  /** Lines for other built-in rules or not understood (kept for evidence, ignored by the decision). */
  readonly otherLines: number;
}

export type UserRulesResult = UserRules | { readonly ok: false; readonly problem: string };

function bytesToText(v: RegistryValue): { text: string; encoding: UserRules['encoding'] } | undefined {
  if (v.type === 'REG_SZ' || v.type === 'REG_EXPAND_SZ') return { text: v.data, encoding: 'text' };
  if (v.type === 'REG_MULTI_SZ') return { text: v.data.join('\r\n'), encoding: 'text' };
  if (v.type !== 'REG_BINARY' && v.type !== 'REG_NONE') return undefined;
  const bytes = Buffer.from(v.data, 'base64');
  // UTF-16LE text has a zero high byte after every ASCII character (bytes[3] is undefined below 4 bytes).
  const looksUtf16 = bytes[1] === 0 && bytes[3] === 0 && bytes[0] !== 0;
  return looksUtf16 ? { text: bytes.toString('utf16le'), encoding: 'utf-16le' } : { text: bytes.toString('latin1'), encoding: 'ascii' };
}

/** Control characters other than tab, LF and CR: not text. */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

// `<verb> <rule id> [<argument>]`, e.g. `UserEnforce AVO10 1`, `UserEnforce UR1 1`, `UserString UR1 ...`.
const LINE = /^(User[A-Za-z]+)\s+(\S+)(?:\s+(.*))?/i;
const USER_DEFINED_ID = /^UR\d+$/i;
const FLAG = /^[01]$/;

interface Draft {
  id: string;
  block: boolean | null;
  report: boolean | null;
  lines: number;
}

export function decodeUserRules(v: RegistryValue): UserRulesResult {
  const decoded = bytesToText(v);
  if (!decoded) return { ok: false, problem: `${USER_RULES_VALUE} is ${v.type}, not text or binary` };
  const text = decoded.text.replace(/\0+$/, '');
  const trailingNul = text.length < decoded.text.length;
  // Anything else non-printable means this is not the text format we know.
  if (CONTROL.test(text)) return { ok: false, problem: `${USER_RULES_VALUE} holds binary data, not Access Protection text` };
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  let enforce: boolean | undefined;
  let report: boolean | undefined;
  const userExclusions: string[] = [];
  const userDefined = new Map<string, Draft>();
  let otherLines = 0;
  let known = 0;
  for (const line of lines) {
    if (/^AccessProtection\s*\{?$/i.test(line) || line === '{' || line === '}') {
      known++;
      continue;
    }
    const m = LINE.exec(line);
    if (!m) {
      otherLines++;
      continue;
    }
    known++;
    const verb = m[1]!.toLowerCase();
    const id = m[2]!;
    // Lines are trimmed and the pattern takes the blanks before it.
    const arg = m[3] ?? '';
    if (USER_DEFINED_ID.test(id) || verb === 'userstring') {
      // Stryker disable next-line MethodExpression: any one case folding works as the grouping key.
      const key = id.toUpperCase();
      const d = userDefined.get(key) ?? { id, block: null, report: null, lines: 0 };
      d.lines++;
      if (verb === 'userenforce' && FLAG.test(arg)) d.block = arg === '1';
      if (verb === 'userreport' && FLAG.test(arg)) d.report = arg === '1';
      userDefined.set(key, d);
      continue;
    }
    if (id.toUpperCase() !== MASS_MAILING_ID) {
      otherLines++;
      continue;
    }
    if (verb === 'userexclude' && arg !== '') userExclusions.push(arg);
    else if (verb === 'userenforce' || verb === 'userreport') {
      // The line that decides the verdict: a setting other than 0/1 is not guessed at.
      if (!FLAG.test(arg)) return { ok: false, problem: `${USER_RULES_VALUE} sets ${m[1]} ${MASS_MAILING_ID} to ${JSON.stringify(arg)}, not 0 or 1` };
      if (verb === 'userenforce') enforce = arg === '1';
      else report = arg === '1';
    } else otherLines++;
  }
  if (known === 0) return { ok: false, problem: `${USER_RULES_VALUE} does not hold Access Protection rule text` };
  return { ok: true, trailingNul, encoding: decoded.encoding, enforce, report, userExclusions, userDefined: [...userDefined.values()], otherLines };
}

/**
 * The built-in mass-mailing rule of VSE 8.5–8.8: product defaults (Block on, ports 25 and 587
 * outbound, the default exclusion list) overlaid with what `AccessProtectionUserRules` says.
 */
export function builtInMassMailingRule(user: UserRules | undefined): PortRule {
  const assumed: string[] = [];
  if (user?.enforce === undefined) assumed.push('enabled');
  if (user?.report === undefined) assumed.push('report');
  assumed.push('ports', 'direction', 'defaultExclusions');
  return {
    name: MASS_MAILING_NAME,
    id: MASS_MAILING_ID,
    enabled: user?.enforce ?? true,
    report: user?.report ?? true,
    ports: [{ from: 25, to: 25 }, { from: 587, to: 587 }],
    direction: 'Outbound',
    include: [],
    exclude: [...DEFAULT_MASS_MAILING_EXCLUSIONS, ...(user?.userExclusions ?? [])],
    source: user ? USER_RULES_VALUE : 'product-default',
    assumed,
  };
}
