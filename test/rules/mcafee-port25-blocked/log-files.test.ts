// Which files the rule reads as the access-protection log, what it says about where each came
// from, and which of their lines prove a block.
import { describe, expect, it } from 'vitest';
import { MAX_LINES, observedBlocks } from '../../../src/rules/mcafee-port25-blocked/observed-blocks';
import { parseSnapshot } from '../../../src/snapshot/parse';
import type { SnapshotInput } from '../../../src/snapshot/schema';

const BB88 = 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking';
const BB80 = 'HKLM\\SOFTWARE\\Network Associates\\TVD\\Shared Components\\On Access Scanner\\BehaviourBlocking';
const EDGE = 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\EdgeTransport.exe';
const RULE = 'Anti-virus Standard Protection:Prevent mass mailing worms from sending mail';
const line = (time: string, target: string, proc = EDGE, action = 'Blocked by port blocking rule ') => `11/26/2026\t${time}\t${action}\t${proc}\t${RULE}\t${target}`;

type FileInput = SnapshotInput['files'] extends (infer F)[] | undefined ? F : never;

function snapshotWith(files: FileInput[], utcOffsetMinutes?: number) {
  const doc: SnapshotInput = {
    schema: 'fleet-posture/snapshot@1',
    snapshotId: '0b6f3a2e-6a55-4f0e-9d47-2f7cfb7f4c11',
    collectedAt: '2026-11-27T00:00:00.000Z',
    collector: { name: 'test', version: '1' },
    host: { name: 'EXCH01', ...(utcOffsetMinutes === undefined ? {} : { utcOffsetMinutes }) },
    registry: [],
    services: [],
    files,
  };
  const r = parseSnapshot(doc, { now: Date.parse('2030-01-01T00:00:00Z') });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.normalised;
}

const LAST_WRITE = Date.parse('2026-11-01T00:00:00Z');

describe('the access-protection log files', () => {
  it('reads a file at the path the settings name, whatever its name, and says which value named it', () => {
    const s = snapshotWith([
      { path: 'D:\\Logs\\AP.log', pathFrom: { registryPath: BB88, view: '32', valueName: 'szLogFileName' }, exists: true, tail: line('3:42:10 PM', '198.51.100.25:25') },
      { path: 'D:\\Logs\\Ent.log', pathFrom: { registryPath: 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Network Associates\\TVD\\Shared Components\\On Access Scanner\\BehaviourBlocking', view: '64', valueName: 'SZLOGFILENAME_ENT' }, exists: false },
    ], 60);
    const r = observedBlocks(s, ['EdgeTransport.exe'], LAST_WRITE);
    expect(r.files).toEqual([
      { path: 'D:\\Logs\\AP.log', source: 'configured', configuredBy: { registryPath: BB88, view: '32', valueName: 'szLogFileName' }, exists: true, error: null, smtpPort25Lines: 1 },
      {
        path: 'D:\\Logs\\Ent.log',
        source: 'configured',
        configuredBy: { registryPath: 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Network Associates\\TVD\\Shared Components\\On Access Scanner\\BehaviourBlocking', view: '64', valueName: 'SZLOGFILENAME_ENT' },
        exists: false,
        error: null,
        smtpPort25Lines: 0,
      },
    ]);
    expect(r.proving).toHaveLength(1);
  });

  it('reads a file called AccessProtectionLog.txt (any case) at a default path, and says it was the default', () => {
    const s = snapshotWith([{ path: 'C:\\ProgramData\\McAfee\\DesktopProtection\\ACCESSPROTECTIONLOG.TXT', exists: true, error: { code: 'IoError' } }]);
    expect(observedBlocks(s, ['EdgeTransport.exe'], LAST_WRITE).files).toEqual([
      { path: 'C:\\ProgramData\\McAfee\\DesktopProtection\\ACCESSPROTECTIONLOG.TXT', source: 'default', configuredBy: null, exists: true, error: 'IoError', smtpPort25Lines: 0 },
    ]);
  });

  it('ignores other files, and paths named by values or keys that are not the log settings', () => {
    const tail = line('3:42:10 PM', '198.51.100.25:25');
    const s = snapshotWith([
      { path: 'C:\\other.txt', exists: true, tail },
      { path: 'D:\\Logs\\OnAccessScan.log', pathFrom: { registryPath: BB88, view: '32', valueName: 'szOASLogFileName' }, exists: true, tail },
      { path: 'D:\\Logs\\Other.log', pathFrom: { registryPath: 'HKLM\\SOFTWARE\\Contoso\\BehaviourBlocking', view: '32', valueName: 'szLogFileName' }, exists: true, tail },
      { path: 'D:\\Logs\\Below.log', pathFrom: { registryPath: `${BB80}\\User`, view: '32', valueName: 'szLogFileName' }, exists: true, tail },
    ]);
    const r = observedBlocks(s, ['EdgeTransport.exe'], LAST_WRITE);
    expect(r.files).toEqual([]);
    expect(r.proving).toEqual([]);
  });

  it('a default-named file read from a path named elsewhere still counts, as a default', () => {
    const s = snapshotWith([{ path: 'C:\\X\\AccessProtectionLog.txt', pathFrom: { registryPath: 'HKLM\\SOFTWARE\\Contoso', view: '64', valueName: 'szLogFileName' }, exists: true }]);
    expect(observedBlocks(s, ['EdgeTransport.exe'], LAST_WRITE).files[0]).toMatchObject({ source: 'default', configuredBy: null });
  });

  it('a log entry without a tail (missing file, or nothing read) holds no lines', () => {
    const s = snapshotWith([
      { path: 'C:\\ProgramData\\McAfee\\DesktopProtection\\AccessProtectionLog.txt', exists: false },
      { path: 'C:\\Documents and Settings\\All Users\\Application Data\\McAfee\\DesktopProtection\\AccessProtectionLog.txt', exists: true, size: 0 },
    ]);
    const r = observedBlocks(s, ['EdgeTransport.exe'], LAST_WRITE);
    expect(r.files.map((f) => [f.exists, f.smtpPort25Lines])).toEqual([
      [false, 0],
      [true, 0],
    ]);
    expect([r.proving, r.earlier, r.wouldBlock, r.unread]).toEqual([[], [], [], []]);
  });
});

describe('which lines prove a block', () => {
  const LOG = 'C:\\ProgramData\\McAfee\\DesktopProtection\\AccessProtectionLog.txt';
  interface Options {
    readonly lastWriteMs?: number;
    readonly offset?: number;
    readonly images?: string[];
  }
  const evaluate = (tail: string, o: Options = { lastWriteMs: LAST_WRITE, offset: 60 }) =>
    observedBlocks(snapshotWith([{ path: LOG, exists: true, tail }], o.offset), o.images ?? ['EdgeTransport.exe'], o.lastWriteMs);

  it('a block on :587 or any other port is no proof, nor a block of another process', () => {
    const r = evaluate([line('3:42:02 PM', '198.51.100.25:587'), line('3:42:03 PM', '198.51.100.25:2525'), line('3:42:04 PM', '198.51.100.25'), line('3:42:05 PM', '198.51.100.25:25', 'C:\\X\\OUTLOOK.EXE')].join('\r\n'));
    expect(r.files[0]?.smtpPort25Lines).toBe(0);
    expect([r.proving, r.earlier, r.wouldBlock, r.unread]).toEqual([[], [], [], []]);
  });

  it('sorts port-25 lines of an SMTP process: proving, earlier, report-only, unread', () => {
    const r = evaluate(
      [
        line('3:42:10 PM', '198.51.100.25:25'),
        '10/01/2026\t9:00:00 AM\tBlocked by port blocking rule \t' + EDGE + '\t' + RULE + '\t198.51.100.26:25',
        line('3:42:11 PM', '198.51.100.27:25', EDGE, 'Would be blocked by port blocking rule  (rule is currently not enforced) '),
        '11/26/2026\t15:42:12\tBlocked by port blocking rule \t' + EDGE + '\t' + RULE + '\t198.51.100.28:25',
      ].join('\r\n'),
    );
    expect(r.proving).toEqual([
      {
        file: LOG,
        line: line('3:42:10 PM', '198.51.100.25:25'),
        process: EDGE,
        rule: RULE,
        target: '198.51.100.25:25',
        localTime: '2026-11-26T15:42:10',
        utcEarliest: '2026-11-26T14:42:10.000Z',
        utcLatest: '2026-11-26T14:42:10.000Z',
      },
    ]);
    expect(r.earlier.map((e) => e.target)).toEqual(['198.51.100.26:25']);
    expect(r.wouldBlock.map((e) => e.target)).toEqual(['198.51.100.27:25']);
    expect(r.unread).toEqual([{ file: LOG, line: r.unread[0]?.line, process: EDGE, rule: RULE, target: '198.51.100.28:25', localTime: null, utcEarliest: null, utcLatest: null }]);
    expect(r.files[0]?.smtpPort25Lines).toBe(4);
    expect(r).toMatchObject({ offsetKnown: true, window: 'sinceLastWrite' });
  });

  it('without a last write, a block proves only within 24 h before collection; without an offset, under some offset', () => {
    const r = evaluate(line('3:42:10 PM', '198.51.100.25:25'), {});
    expect(r).toMatchObject({ offsetKnown: false, window: 'last24h' });
    expect(r.proving[0]).toMatchObject({ utcEarliest: '2026-11-26T01:42:10.000Z', utcLatest: '2026-11-27T03:42:10.000Z' });
    expect(evaluate('11/24/2026\t3:42:10 PM\tBlocked by port blocking rule \t' + EDGE + '\t' + RULE + '\t1.2.3.4:25', { offset: 0 }).earlier).toHaveLength(1);
  });

  it('matches the SMTP image case-insensitively on the file name only', () => {
    expect(evaluate(line('3:42:10 PM', '1.2.3.4:25', 'C:\\X\\EDGETRANSPORT.EXE')).proving).toHaveLength(1);
    expect(evaluate(line('3:42:10 PM', '1.2.3.4:25', 'C:\\EdgeTransport.exe\\x.exe')).proving).toHaveLength(0);
    expect(evaluate(line('3:42:10 PM', '1.2.3.4:25', EDGE), { lastWriteMs: LAST_WRITE, offset: 60, images: ['INETINFO.EXE', 'edgetransport.exe'] }).proving).toHaveLength(1);
  });

  it('keeps at most ten lines of each kind, and cuts a long line to 500 characters', () => {
    const many = Array.from({ length: 12 }, (_, i) => line(`3:42:${10 + i} PM`, '198.51.100.25:25')).join('\r\n');
    const r = evaluate(many);
    expect(MAX_LINES).toBe(10);
    expect(r.proving).toHaveLength(10);
    expect(r.files[0]?.smtpPort25Lines).toBe(12);
    const long = line('3:42:10 PM', `198.51.100.25:25`, `C:\\${'x'.repeat(600)}\\EdgeTransport.exe`);
    const e = evaluate(long).proving[0];
    expect(e?.line).toBe(long.slice(0, 500));
    expect(e?.process).toBe(`C:\\${'x'.repeat(600)}\\EdgeTransport.exe`);
    expect(evaluate(line('3:42:10 PM', '1.2.3.4:25', `C:\\${'x'.repeat(456)}\\EdgeTransport.exe`)).proving[0]?.line).toHaveLength(500);
  });
});
