// The tail of AccessProtectionLog.txt: port-block lines and their local times. A line is
//   <date>\t<time>\tBlocked by port blocking rule \t<PROCESS PATH>\t<category>:<rule name>\t<ip>:<port>
// Times are the server's local time with no zone; dates follow the server's locale.

export type BlockKind = 'blocked' | 'wouldBlock';

export interface PortBlockLine {
  readonly kind: BlockKind;
  readonly process: string;
  readonly rule: string;
  readonly target: string;
  readonly remotePort?: number;
  /** The local wall-clock time read as if it were UTC (epoch ms); undefined when unreadable. */
  readonly localMs?: number;
  readonly raw: string;
}

// "Would be" first: its text contains the plain one. The Japanese forms are reconstructions.
const ACTIONS: readonly { re: RegExp; kind: BlockKind }[] = [
  { re: /would be blocked by port blocking rule|rule is currently not enforced/i, kind: 'wouldBlock' },
  { re: /ポート\s*ブロック.*(適用されていません|強制されていません)/, kind: 'wouldBlock' },
  { re: /blocked by port blocking rule/i, kind: 'blocked' },
  { re: /ポート\s*ブロック\s*ルールによってブロック/, kind: 'blocked' },
];

const US_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;
const JA_DATE = /^(\d{4})\/(\d{1,2})\/(\d{1,2})$/;
const TIME = /^(\d{1,2}):(\d{2}):(\d{2})(?:\s*(AM|PM|午前|午後))?$/i;

/**
 * Local time of a log line as epoch ms "as if UTC": US `M/D/YYYY h:mm:ss AM/PM` or Japanese
 * `YYYY/MM/DD H:mm:ss`. A slash date ending in the year with a 24-hour clock is not read: day-first
 * locales write `11/05/2026 15:14:07` too, and guessing the month could invent a recent block.
 */
export function parseLocalTime(date: string, time: string): number | undefined {
  const d = date.trim();
  const t = TIME.exec(time.trim());
  if (!t) return undefined;
  const half = t[4]?.toUpperCase();
  const us = half ? US_DATE.exec(d) : undefined;
  const ja = us ? undefined : JA_DATE.exec(d);
  let year: number, month: number, day: number;
  if (us) [month, day, year] = [Number(us[1]), Number(us[2]), Number(us[3])];
  else if (ja) [year, month, day] = [Number(ja[1]), Number(ja[2]), Number(ja[3])];
  else return undefined;
  let hour = Number(t[1]);
  const minute = Number(t[2]);
  const second = Number(t[3]);
  if (half) {
    if (hour < 1 || hour > 12) return undefined;
    const pm = half === 'PM' || half === '午後';
    hour = (hour % 12) + (pm ? 12 : 0);
  }
  // Out-of-range parts (2/30, 13th month, 24:00, 10:60) roll over in Date.UTC: the time is read
  // only when it comes back as written.
  const written = `${year}-${two(month)}-${two(day)}T${two(hour)}:${two(minute)}:${two(second)}`;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  return new Date(ms).toISOString().startsWith(written) ? ms : undefined;
}

const two = (n: number): string => String(n).padStart(2, '0');

function remotePortOf(target: string): number | undefined {
  const m = /:(\d{1,5})$/.exec(target);
  return m ? Number(m[1]) : undefined;
}

export const MAX_LINE_CHARS = 4096;

/** Filters a port-block line on its process (as written) and remote port before its time is read. */
export type LineFilter = (process: string, remotePort: number | undefined) => boolean;

/** The field of a port-block line holding its action: third after date and time, earlier when they are missing. */
const ACTION_FIELD_MAX = 2;

const kindOf = (field: string): BlockKind | undefined => ACTIONS.find((a) => a.re.test(field))?.kind;

/**
 * One line of the log (split on '\n', a trailing '\r' allowed) as a port-block line; undefined
 * for every other line (file blocks, garbage, over-long) and for lines `wanted` rejects. A block
 * line that lacks its date or time columns is kept, with no time: it proves nothing, but is listed.
 */
export function parseAccessLogLine(line: string, wanted?: LineFilter): PortBlockLine | undefined {
  // Real lines are a few hundred characters; a huge one is garbage and must not cost more.
  if (line.length > MAX_LINE_CHARS) return undefined;
  // Fields are trimmed, so a CRLF line's '\r' goes with the blanks.
  const f = line.split('\t').map((x) => x.trim());
  const action = f.slice(0, ACTION_FIELD_MAX + 1).map((text, at) => ({ at, kind: kindOf(text) })).find((a) => a.kind !== undefined);
  if (!action?.kind) return undefined;
  const { at, kind } = action;
  const [process = '', rule = '', target = ''] = f.slice(at + 1, at + 4);
  const remotePort = remotePortOf(target);
  if (wanted && !wanted(process, remotePort)) return undefined;
  const localMs = at === ACTION_FIELD_MAX ? parseLocalTime(f[0]!, f[1]!) : undefined;
  return { kind, process, rule, target, remotePort, localMs, raw: line.trimEnd() };
}

/**
 * Port-block lines of a log tail; every other line (file blocks, garbage) is skipped. `wanted`
 * filters on process and remote port before the time is read. When only a few process names
 * matter, parseAccessLogNaming (access-log-naming.ts) skips the other lines without parsing them.
 */
export function parseAccessLog(tail: string, wanted?: LineFilter): PortBlockLine[] {
  const out: PortBlockLine[] = [];
  for (const line of tail.split('\n')) {
    const l = parseAccessLogLine(line, wanted);
    if (l) out.push(l);
  }
  return out;
}

/** Offsets a server can have, in minutes: UTC−12 to UTC+14. */
export const MIN_OFFSET_MINUTES = -720;
export const MAX_OFFSET_MINUTES = 840;
const MINUTE = 60_000;
export const RECENT_WINDOW_MS = 24 * 60 * MINUTE;

/** The UTC instants a local time can stand for: exact with a known offset, else a span. */
export function utcSpan(localMs: number, utcOffsetMinutes: number | undefined): { earliest: number; latest: number } {
  if (utcOffsetMinutes !== undefined) {
    const t = localMs - utcOffsetMinutes * MINUTE;
    return { earliest: t, latest: t };
  }
  return { earliest: localMs - MAX_OFFSET_MINUTES * MINUTE, latest: localMs - MIN_OFFSET_MINUTES * MINUTE };
}

/** Newer than `lastWriteMs` under every possible offset (so a guessed zone never makes an Error). */
export function isNewerThan(localMs: number, lastWriteMs: number, utcOffsetMinutes: number | undefined): boolean {
  return utcSpan(localMs, utcOffsetMinutes).earliest > lastWriteMs;
}

/** In the 24 h before `collectedAt` under some possible offset. */
export function isRecent(localMs: number, collectedAtMs: number, utcOffsetMinutes: number | undefined): boolean {
  const span = utcSpan(localMs, utcOffsetMinutes);
  return span.earliest <= collectedAtMs && span.latest >= collectedAtMs - RECENT_WINDOW_MS;
}
