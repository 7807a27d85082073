// AccessProtectionLog.txt parsing and the local-time reasoning of row 5.
import { describe, expect, it } from 'vitest';
import { isNewerThan, isRecent, MAX_LINE_CHARS, MAX_OFFSET_MINUTES, MIN_OFFSET_MINUTES, parseAccessLog, parseAccessLogLine, parseLocalTime, RECENT_WINDOW_MS, utcSpan } from '../../../src/rules/mcafee-port25-blocked/access-log';
import { mcafeePort25Blocked } from '../../../src/rules/mcafee-port25-blocked';
import { parseSnapshot } from '../../../src/snapshot/parse';
import { readFixture } from './fixture-table';

const H = 3_600_000;
const utc = (iso: string): number => Date.parse(iso);

describe('log times', () => {
  it.each([
    ['11/27/2026', '4:12:07 PM', '2026-11-27T16:12:07Z'],
    ['11/27/2026', '12:05:00 AM', '2026-11-27T00:05:00Z'],
    ['1/2/2026', '12:00:01 PM', '2026-01-02T12:00:01Z'],
    ['2026/11/28', '7:41:03', '2026-11-28T07:41:03Z'],
    ['2026/1/9', '23:59:59', '2026-01-09T23:59:59Z'],
    ['2026/11/28', '1:00:00 午後', '2026-11-28T13:00:00Z'],
  ])('%s %s → %s', (date, time, expected) => {
    expect(parseLocalTime(date, time)).toBe(utc(expected));
  });
  it.each([
    ['27.11.2026', '21:14:09'],
    ['2/30/2026', '1:00:00 PM'],
    ['11/27/2026', '13:00:00 PM'],
    ['11/27/2026', '25:00:00'],
    ['2026/13/01', '1:00:00'],
    ['', ''],
  ])('cannot read %j %j', (date, time) => {
    expect(parseLocalTime(date, time)).toBeUndefined();
  });
});

describe('log lines', () => {
  const tail = [
    'garbage',
    '11/27/2026\t3:02:11 PM\tBlocked by Access Protection rule \tNT AUTHORITY\\SYSTEM\tC:\\WINDOWS\\system32\\svchost.exe\tCommon Standard Protection:Prevent modification of McAfee files and settings\tC:\\x\tAction blocked : Terminate',
    '11/27/2026\t4:12:07 PM\tBlocked by port blocking rule \tC:\\WINDOWS\\SYSTEM32\\INETSRV\\INETINFO.EXE\tAnti-virus Standard Protection:Prevent mass mailing worms from sending mail\t192.0.2.25:25',
    '2026/11/28\t7:41:03\tWould be blocked by port blocking rule  (rule is currently not enforced) \tC:\\X\\EDGETRANSPORT.EXE\tウイルス対策標準保護:マス メール型ワームによるメールの送信を防止する\t203.0.113.40:587',
    '',
  ].join('\r\n');
  it('keeps port-block lines only, with kind, process, rule, remote port and local time', () => {
    const lines = parseAccessLog(tail);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ kind: 'blocked', process: 'C:\\WINDOWS\\SYSTEM32\\INETSRV\\INETINFO.EXE', remotePort: 25, localMs: utc('2026-11-27T16:12:07Z') });
    expect(lines[1]).toMatchObject({ kind: 'wouldBlock', rule: 'ウイルス対策標準保護:マス メール型ワームによるメールの送信を防止する', remotePort: 587, localMs: utc('2026-11-28T07:41:03Z') });
  });
});

describe('offsets', () => {
  const local = utc('2026-11-27T11:00:00Z');
  it('is exact with a known offset', () => {
    expect(utcSpan(local, 540)).toEqual({ earliest: utc('2026-11-27T02:00:00Z'), latest: utc('2026-11-27T02:00:00Z') });
  });
  it('spans UTC-12..UTC+14 without one', () => {
    expect(utcSpan(local, undefined)).toEqual({ earliest: local - 14 * H, latest: local + 12 * H });
  });
  it('a block 13 h before the last write under one offset and after it under another is not newer without an offset', () => {
    const lastWrite = utc('2026-11-27T10:00:00Z');
    // Under UTC+14 the block is 2026-11-26T21:00Z (13 h before); under UTC-12 it is 23:00Z (after).
    expect(utcSpan(local, 840).earliest).toBe(lastWrite - 13 * H);
    expect(isNewerThan(local, lastWrite, -720)).toBe(true);
    expect(isNewerThan(local, lastWrite, undefined)).toBe(false);
    expect(isNewerThan(local, lastWrite, 0)).toBe(true);
    expect(isNewerThan(local + 14 * H + 1000, lastWrite, undefined)).toBe(true);
  });
  it('is recent when it falls in the 24 h before collection under some offset', () => {
    const collected = utc('2026-11-28T00:00:00Z');
    expect(isRecent(utc('2026-11-27T09:00:00Z'), collected, 0)).toBe(true);
    expect(isRecent(utc('2026-11-26T23:00:00Z'), collected, 0)).toBe(false);
    // 13:00 local the day before: under UTC-12 that is 01:00Z on the 27th → within the window.
    expect(isRecent(utc('2026-11-26T13:00:00Z'), collected, undefined)).toBe(true);
    expect(isRecent(utc('2026-11-26T11:00:00Z'), collected, undefined)).toBe(false);
    expect(isRecent(utc('2026-11-25T11:00:00Z'), collected, undefined)).toBe(false);
    // In the future of the collection even under UTC+14: not a past block.
    expect(isRecent(utc('2026-11-28T15:00:00Z'), collected, undefined)).toBe(false);
  });
});

describe('row 5 on the ambiguous-time fixture', () => {
  const doc = readFixture('vse88-block-ambiguous-time-no-offset.json') as { host: Record<string, unknown> };
  const run = (offset: number | undefined) => {
    const host = { ...doc.host };
    if (offset === undefined) delete host.utcOffsetMinutes;
    else host.utcOffsetMinutes = offset;
    const parsed = parseSnapshot({ ...doc, host }, { now: utc('2026-12-01T00:00:00Z') });
    if (!parsed.ok) throw new Error('fixture invalid');
    return mcafeePort25Blocked.evaluate(parsed.normalised);
  };
  it('gives no Error without utcOffsetMinutes', () => expect(run(undefined).reasonCode).toBe('SmtpNotExcluded'));
  it('gives Error when the offset puts the block after the last write', () => expect(run(-300).reasonCode).toBe('BlockObserved'));
  it('gives no Error when the offset puts it before', () => expect(run(840).reasonCode).toBe('SmtpNotExcluded'));
});

describe('row 5 when the settings key has no last write time', () => {
  const doc = readFixture('vse88-x64-block-observed-no-offset-key-unreadable.json') as { collectedAt: string };
  const run = (collectedAt: string) => {
    const parsed = parseSnapshot({ ...doc, collectedAt }, { now: utc('2030-01-01T00:00:00Z') });
    if (!parsed.ok) throw new Error('fixture invalid');
    return mcafeePort25Blocked.evaluate(parsed.normalised);
  };
  it('counts a block within 24 h before collection under some offset', () => expect(run('2026-11-28T08:00:00.000Z').reasonCode).toBe('BlockObserved'));
  it('does not count it once it is older than 24 h under every offset', () => {
    // 09:15:44 local is at the latest 21:15:44Z (UTC-12); 24 h later it no longer proves anything.
    const r = run('2026-11-28T21:16:00.000Z');
    expect(r.reasonCode).toBe('ConfigUnreadable');
    expect(r.evidence).toMatchObject({ log: { proving: [], earlier: [{ localTime: '2026-11-27T09:15:44' }] } });
  });
});

describe('hostile log tails', () => {
  it('skips over-long lines and still reads the next one', () => {
    const long = `11/27/2026\t4:12:07 PM\tBlocked by port blocking rule ${'ポート ブロック'.repeat(2000)}\tX.EXE\tR\t1.2.3.4:25`;
    const ok = '11/27/2026\t4:12:08 PM\tBlocked by port blocking rule \tC:\\X\\INETINFO.EXE\tR\t1.2.3.4:25';
    expect(parseAccessLog(`${long}\r\n${ok}\r\n`).map((l) => l.process)).toEqual(['C:\\X\\INETINFO.EXE']);
  });
});

describe('log times that are not read', () => {
  it.each([
    ['11/27/2026', '10:60:00 AM'],
    ['2026/11/27', '10:60:00'],
    ['2026/11/27', '10:59:60'],
    ['2026/11/27', '24:00:00'],
    ['11/27/2026', '0:30:00 AM'],
    ['11/27/2026', '13:00:00 PM'],
    ['2026/0/27', '10:00:00'],
    ['2026/11/0', '10:00:00'],
    ['2026/2/29', '10:00:00'],
    ['11/27/26', '4:12:07 PM'],
    ['2026/11/27', '10:00'],
    ['2026/11/27', '10:00:00 XM'],
  ])('%j %j', (date, time) => {
    expect(parseLocalTime(date, time)).toBeUndefined();
  });

  // Day-first locales write the same shape: 11/05/2026 may be 5 November or 11 May.
  it.each([
    ['11/05/2026', '15:14:07'],
    ['11/05/2026', '09:14:07'],
    ['27/11/2026', '15:14:07'],
    ['1/2/2026', '0:00:00'],
  ])('a slash date ending in the year with a 24-hour clock is ambiguous: %j %j', (date, time) => {
    expect(parseLocalTime(date, time)).toBeUndefined();
  });

  it('reads the same date with AM/PM (US) and a year-first date with a 24-hour clock (Japanese)', () => {
    expect(parseLocalTime('11/05/2026', '3:14:07 PM')).toBe(utc('2026-11-05T15:14:07Z'));
    expect(parseLocalTime('2026/11/05', '15:14:07')).toBe(utc('2026-11-05T15:14:07Z'));
    expect(parseLocalTime(' 2026/11/05 ', ' 0:00:00 ')).toBe(utc('2026-11-05T00:00:00Z'));
    expect(parseLocalTime('2026/11/05', '11:59:59 午前')).toBe(utc('2026-11-05T11:59:59Z'));
    expect(parseLocalTime('2026/11/05', '12:00:00 午前')).toBe(utc('2026-11-05T00:00:00Z'));
    expect(parseLocalTime('11/05/2026', '12:30:00 pm')).toBe(utc('2026-11-05T12:30:00Z'));
    expect(parseLocalTime('2/28/2026', '11:59:59 PM')).toBe(utc('2026-02-28T23:59:59Z'));
    expect(parseLocalTime('2/29/2028', '1:00:00 AM')).toBe(utc('2028-02-29T01:00:00Z'));
    expect(parseLocalTime('12/31/2026', '1:00:00AM')).toBe(utc('2026-12-31T01:00:00Z'));
  });
});

describe('log lines, field by field', () => {
  const RULE = 'Anti-virus Standard Protection:Prevent mass mailing worms from sending mail';
  const EDGE = 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\EdgeTransport.exe';

  it('reads the real report-only text, two blanks and all', () => {
    const line = `11/26/2026\t3:41:30 PM\tWould be blocked by port blocking rule  (rule is currently not enforced) \t${EDGE}\t${RULE}\t203.0.113.80:25`;
    expect(parseAccessLogLine(line)).toEqual({ kind: 'wouldBlock', process: EDGE, rule: RULE, target: '203.0.113.80:25', remotePort: 25, localMs: utc('2026-11-26T15:41:30Z'), raw: line });
  });

  it('keeps a block line without its date or time columns, with no time', () => {
    const noDate = `3:42:10 PM\tBlocked by port blocking rule \t${EDGE}\t${RULE}\t198.51.100.25:25`;
    const neither = `Blocked by port blocking rule \t${EDGE}\t${RULE}\t198.51.100.25:25\r`;
    expect(parseAccessLogLine(noDate)).toEqual({ kind: 'blocked', process: EDGE, rule: RULE, target: '198.51.100.25:25', remotePort: 25, localMs: undefined, raw: noDate });
    expect(parseAccessLogLine(neither)).toEqual({ kind: 'blocked', process: EDGE, rule: RULE, target: '198.51.100.25:25', remotePort: 25, localMs: undefined, raw: neither.slice(0, -1) });
  });

  it('keeps a block line cut short, with what it has', () => {
    expect(parseAccessLogLine('11/26/2026\t3:42:10 PM\tBlocked by port blocking rule ')).toMatchObject({ kind: 'blocked', process: '', rule: '', target: '', remotePort: undefined, localMs: utc('2026-11-26T15:42:10Z') });
    expect(parseAccessLogLine(`11/26/2026\t3:42:10 PM\tBlocked by port blocking rule \t${EDGE}`)).toMatchObject({ process: EDGE, rule: '', target: '' });
  });

  it('does not take an action from the process, rule or target fields', () => {
    expect(parseAccessLogLine(`11/26/2026\t3:42:10 PM\tSomething else\tBlocked by port blocking rule \t${RULE}\tx:25`)).toBeUndefined();
    expect(parseAccessLogLine('no tabs at all, Blocked by port blocking rule')).toMatchObject({ kind: 'blocked', process: '' });
    expect(parseAccessLogLine('')).toBeUndefined();
  });

  it('reads the remote port only from the end of the target', () => {
    const port = (target: string) => parseAccessLogLine(`2026/11/26\t15:42:10\tBlocked by port blocking rule \t${EDGE}\t${RULE}\t${target}`)?.remotePort;
    expect(port('198.51.100.25:25')).toBe(25);
    expect(port('[2001:db8::1]:25 ')).toBe(25);
    expect(port('198.51.100.25:587')).toBe(587);
    expect(port('198.51.100.25')).toBeUndefined();
    expect(port('198.51.100.25:123456')).toBeUndefined();
    expect(port('198.51.100.25:25x')).toBeUndefined();
  });

  it('asks the filter with the process as written and the port, before reading the time', () => {
    const seen: [string, number | undefined][] = [];
    const line = `2026/11/26\t15:42:10\tBlocked by port blocking rule \t ${EDGE} \t${RULE}\t198.51.100.25:587`;
    expect(parseAccessLogLine(line, (p, port) => (seen.push([p, port]), false))).toBeUndefined();
    expect(seen).toEqual([[EDGE, 587]]);
    expect(parseAccessLogLine(line, () => true)?.remotePort).toBe(587);
  });

  it('reads Japanese action texts', () => {
    expect(parseAccessLogLine(`2026/11/26\t15:42:10\tポート ブロック ルールによってブロックされました\t${EDGE}\tR\tx:25`)?.kind).toBe('blocked');
    expect(parseAccessLogLine(`2026/11/26\t15:42:10\tポート ブロック ルールによってブロックされます (ルールは現在適用されていません)\t${EDGE}\tR\tx:25`)?.kind).toBe('wouldBlock');
    expect(parseAccessLogLine(`2026/11/26\t15:42:10\tポートブロック (強制されていません)\t${EDGE}\tR\tx:25`)?.kind).toBe('wouldBlock');
  });

  it('takes a line of exactly the longest length, not one more', () => {
    const head = `2026/11/26\t15:42:10\tBlocked by port blocking rule \t${EDGE}\t${RULE}\t198.51.100.25:25`;
    const pad = (n: number) => head.replace('\t198', `${' '.repeat(n - head.length)}\t198`);
    expect(parseAccessLogLine(pad(MAX_LINE_CHARS))).toBeDefined();
    expect(parseAccessLogLine(pad(MAX_LINE_CHARS + 1))).toBeUndefined();
  });

  it('splits a tail on LF and CRLF alike', () => {
    const l = `2026/11/26\t15:42:10\tBlocked by port blocking rule \t${EDGE}\t${RULE}\t198.51.100.25:25`;
    expect(parseAccessLog(`${l}\n${l}\r\n${l}`).map((x) => x.raw)).toEqual([l, l, l]);
  });
});

describe('offsets at the edges', () => {
  const lastWrite = utc('2026-11-27T10:00:00Z');
  it('is newer only when strictly after the last write', () => {
    expect(isNewerThan(lastWrite, lastWrite, 0)).toBe(false);
    expect(isNewerThan(lastWrite + 1000, lastWrite, 0)).toBe(true);
    expect(isNewerThan(lastWrite + 14 * H, lastWrite, undefined)).toBe(false);
  });
  it('is recent from exactly 24 h before collection up to collection', () => {
    const collected = utc('2026-11-28T00:00:00Z');
    expect(isRecent(collected, collected, 0)).toBe(true);
    expect(isRecent(collected + 1000, collected, 0)).toBe(false);
    expect(isRecent(collected - 24 * H, collected, 0)).toBe(true);
    expect(isRecent(collected - 24 * H - 1000, collected, 0)).toBe(false);
    // Unknown offset: local time up to 14 h ahead of UTC, or 12 h behind.
    expect(isRecent(collected + 14 * H, collected, undefined)).toBe(true);
    expect(isRecent(collected + 14 * H + 1000, collected, undefined)).toBe(false);
    expect(isRecent(collected - 36 * H, collected, undefined)).toBe(true);
    expect(isRecent(collected - 36 * H - 1000, collected, undefined)).toBe(false);
  });
  it('exposes the bounds it assumes', () => {
    expect([MIN_OFFSET_MINUTES, MAX_OFFSET_MINUTES, RECENT_WINDOW_MS, MAX_LINE_CHARS]).toEqual([-720, 840, 24 * H, 4096]);
  });
});

describe('date, time and action forms, exactly', () => {
  it.each([
    ['111/27/2026', '4:12:07 PM'],
    ['11/27/20260', '4:12:07 PM'],
    ['12026/11/27', '16:12:07'],
    ['2026/11/271', '16:12:07'],
    ['2026/11/27', '116:12:07'],
  ])('does not read %j %j', (date, time) => {
    expect(parseLocalTime(date, time)).toBeUndefined();
  });
  it('reads a Japanese action written without blanks', () => {
    expect(parseAccessLogLine('2026/11/26\t15:42:10\tポートブロックルールによってブロックされました\tC:\\X\\EdgeTransport.exe\tR\tx:25')?.kind).toBe('blocked');
  });
  it('trims the rule and target fields, and the end of the raw line', () => {
    const l = parseAccessLogLine('2026/11/26\t15:42:10\tBlocked by port blocking rule \t C:\\X\\EdgeTransport.exe \t  My rule  \t 198.51.100.25:25 \t \r');
    expect(l).toMatchObject({ process: 'C:\\X\\EdgeTransport.exe', rule: 'My rule', target: '198.51.100.25:25', remotePort: 25, raw: '2026/11/26\t15:42:10\tBlocked by port blocking rule \t C:\\X\\EdgeTransport.exe \t  My rule  \t 198.51.100.25:25' });
  });
});
