// Finding proof in AccessProtectionLog.txt that an Exchange SMTP process was blocked on port 25
// after the settings last changed (or, when that time is unknown, in the last 24 hours).
import { registryKeyId, type FileState, type NormalisedSnapshot } from '../../snapshot/normalise';
import type { FilePathSource } from '../../snapshot/schema';
import { isNewerThan, isRecent, utcSpan, type PortBlockLine } from './access-log';
import { parseAccessLogNaming } from './access-log-naming';
import { ACCESS_LOG_NAME, BEHAVIOUR_BLOCKING_KEYS, GENERATIONS, LOG_PATH_VALUES } from './locations';
import { SMTP_PORT } from './port-rules';
import { fileNameOf } from '../common/glob';

export interface LogLineEvidence {
  readonly file: string;
  readonly line: string;
  readonly process: string;
  readonly rule: string;
  readonly target: string;
  /** Server-local wall-clock time as written, ISO without zone; null when unreadable. */
  readonly localTime: string | null;
  /** The UTC instants it can stand for (equal when the offset is known). */
  readonly utcEarliest: string | null;
  readonly utcLatest: string | null;
}

export interface LogFileEvidence {
  readonly path: string;
  /** configured: the path came from a settings value (named in `configuredBy`); default: the product's default path. */
  readonly source: 'configured' | 'default';
  readonly configuredBy: FilePathSource | null;
  readonly exists: boolean;
  readonly error: string | null;
  /** Port-block lines naming an Exchange SMTP process and remote port 25. */
  readonly smtpPort25Lines: number;
}

export interface ObservedBlocks {
  readonly files: LogFileEvidence[];
  /** Blocks of an SMTP process on port 25 that prove mail is blocked now (their time was read). */
  readonly proving: (LogLineEvidence & { readonly localTime: string })[];
  /** Blocks of an SMTP process on port 25 that may predate the last settings change. */
  readonly earlier: LogLineEvidence[];
  /** Report-only ("Would be blocked") lines for an SMTP process on port 25. */
  readonly wouldBlock: LogLineEvidence[];
  /** SMTP port-25 block lines whose time could not be read: they prove nothing. */
  readonly unread: LogLineEvidence[];
  readonly offsetKnown: boolean;
  readonly window: 'sinceLastWrite' | 'last24h';
}

/** Evidence lists are capped so a long log cannot blow up the stored result. */
export const MAX_LINES = 10;

const iso = (ms: number): string => new Date(ms).toISOString();

const SETTINGS_KEY_IDS = new Set(GENERATIONS.map((g) => registryKeyId(BEHAVIOUR_BLOCKING_KEYS[g], '64').slice(3)));
const LOG_VALUE_NAMES = new Set(LOG_PATH_VALUES.map((v) => v.toLowerCase()));

/** The path came from a log-path value of a BehaviourBlocking key (the key compared without its view). */
function isConfiguredLog(from: FilePathSource | undefined): from is FilePathSource {
  return from !== undefined && LOG_VALUE_NAMES.has(from.valueName.toLowerCase()) && SETTINGS_KEY_IDS.has(registryKeyId(from.registryPath, from.view).slice(3));
}

/** An access-protection log: read from the path the settings name, or a file called AccessProtectionLog.txt. */
function isAccessLog(f: FileState): boolean {
  return isConfiguredLog(f.pathFrom) || fileNameOf(f.path).toLowerCase() === ACCESS_LOG_NAME;
}

function evidenceOf(file: string, l: PortBlockLine, offset: number | undefined): LogLineEvidence {
  const span = l.localMs === undefined ? undefined : utcSpan(l.localMs, offset);
  return {
    file,
    line: l.raw.slice(0, 500),
    process: l.process,
    rule: l.rule,
    target: l.target,
    localTime: l.localMs === undefined ? null : iso(l.localMs).slice(0, 19),
    utcEarliest: span ? iso(span.earliest) : null,
    utcLatest: span ? iso(span.latest) : null,
  };
}

function push(list: LogLineEvidence[], e: LogLineEvidence): void {
  if (list.length < MAX_LINES) list.push(e);
}

export function observedBlocks(s: NormalisedSnapshot, images: readonly string[], lastWriteMs: number | undefined): ObservedBlocks {
  const offset = s.host.utcOffsetMinutes;
  const smtpImages = new Set(images.map((i) => i.toLowerCase()));
  const on25 = (_process: string, port: number | undefined): boolean => port === SMTP_PORT;
  const out: ObservedBlocks = {
    files: [],
    proving: [],
    earlier: [],
    wouldBlock: [],
    unread: [],
    offsetKnown: offset !== undefined,
    window: lastWriteMs === undefined ? 'last24h' : 'sinceLastWrite',
  };
  for (const f of s.files) {
    if (!isAccessLog(f)) continue;
    const lines = f.tail === undefined ? [] : parseAccessLogNaming(f.tail, smtpImages, on25);
    const from = isConfiguredLog(f.pathFrom) ? f.pathFrom : undefined;
    out.files.push({
      path: f.path,
      source: from ? 'configured' : 'default',
      configuredBy: from ? { registryPath: from.registryPath, view: from.view, valueName: from.valueName } : null,
      exists: f.exists,
      error: f.error?.code ?? null,
      smtpPort25Lines: lines.length,
    });
    for (const l of lines) {
      const e = evidenceOf(f.path, l, offset);
      if (l.kind === 'wouldBlock') push(out.wouldBlock, e);
      else if (l.localMs === undefined) push(out.unread, e);
      else {
        const proves = lastWriteMs === undefined ? isRecent(l.localMs, s.collectedAt, offset) : isNewerThan(l.localMs, lastWriteMs, offset);
        push(proves ? out.proving : out.earlier, e);
      }
    }
  }
  return out;
}
