// Snapshot generators for the port-25 rule's property tests: any document the schema accepts, and
// structured 8.0i/8.8 scenarios that reach the rows about port rules and exclusions often.
import fc from 'fast-check';
import { registryValueOf } from '../../support/registry-arbitraries';

export const KEYS = [
  'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion',
  'HKLM\\SOFTWARE\\Network Associates\\TVD\\Shared Components\\On Access Scanner\\BehaviourBlocking',
  'HKLM\\SOFTWARE\\McAfee\\DesktopProtection',
  'HKLM\\SOFTWARE\\McAfee\\VSCore\\On Access Scanner\\BehaviourBlocking',
  'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking',
  'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking\\User',
];
const VALUE_NAMES = [
  'szProductVer', 'APEnabled', 'AccessProtectionUserRules', 'Product', '',
  ...[1, 3].flatMap((n) => ['PortBlockRuleName', 'PortBlockEnabled', 'PortBlockReport', 'PortBlockPorts', 'PortBlockDirection', 'PortBlockExcludedProcesses', 'PortBlockIncludedProcesses'].map((b) => `${b}_${n}`)),
];
const SERVICE_NAMES = ['McShield', 'SMTPSVC', 'MSExchangeTransport', 'MSExchangeFrontEndTransport', 'W3SVC'];
const PROCS = ['EdgeTransport.exe', 'inetinfo.exe', 'MSExchangeFrontendTransport.exe', 'outlook.exe', 'edge*', '*', 'C:\\X\\EDGETRANSPORT.EXE', '?'];

export const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64');
export const iso = fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2029-12-31T00:00:00Z') }).map((ms) => new Date(ms).toISOString());
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('25', '25,587', '20-30', 'Outbound', 'Inbound', 'Both', '8.0.0.912', '8.5.0.781', '8.8.0.1804', 'garbage', 'outlook.exe;EdgeTransport.exe'));
const userRulesText = fc
  .array(fc.constantFrom('UserEnforce AVO10 1', 'UserEnforce AVO10 0', 'UserReport AVO10 1', 'UserExclude AVO10 EdgeTransport.exe', 'UserExclude AVO10 inetinfo.exe', 'UserEnforce AVO5 1', '???', '\u0001'), { maxLength: 4 })
  .chain((lines) => fc.boolean().map((nul) => `AccessProtection {\r\n${lines.map((l) => l + '\r\n').join('')}}\r\n${nul ? '\0' : ''}`));

const registryValue = registryValueOf(
  text,
  fc.oneof(userRulesText.map(b64), fc.uint8Array({ maxLength: 16 }).map((u) => Buffer.from(u).toString('base64'))),
  ['REG_BINARY', 'REG_NONE', 'REG_DWORD_BIG_ENDIAN'],
);

const values = fc.uniqueArray(fc.constantFrom(...VALUE_NAMES), { maxLength: 8 }).chain((names) => fc.tuple(...names.map(registryValue)));

const registryEntry = fc.record({
  path: fc.constantFrom(...KEYS),
  view: fc.constantFrom('64' as const, '32' as const),
  exists: fc.boolean(),
  lastWriteTime: fc.option(iso, { nil: undefined }),
  values: values,
  error: fc.option(fc.record({ code: fc.constantFrom('AccessDenied' as const, 'NotFound' as const, 'IoError' as const, 'Timeout' as const, 'Other' as const) }), { nil: undefined, freq: 5 }),
}).map((e) => ({ ...e, values: e.exists ? e.values : [] }));

const service = (name: string) =>
  fc.record({
    name: fc.constant(name),
    state: fc.constantFrom('Running', 'Stopped', 'Start Pending'),
    started: fc.boolean(),
    pathName: fc.option(fc.constantFrom('C:\\WINDOWS\\System32\\inetsrv\\inetinfo.exe', '"C:\\x y\\z.exe" -k', '', 'svchost.exe -k x'), { nil: null }),
  });

const logLine = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc
    .record({
      // Readable pairs of each locale, the ambiguous day-first form, and unreadable ones.
      when: fc.constantFrom(['11/27/2026', '4:12:07 PM'], ['2026/11/27', '16:12:07'], ['11/05/2026', '15:14:07'], ['27.11.2026', '16:12:07'], ['2/30/2026', '1:00:00 PM'], ['11/27/2026', '99:00:00'], ['', '']),
      action: fc.constantFrom('Blocked by port blocking rule ', 'Would be blocked by port blocking rule  (rule is currently not enforced) ', 'Blocked by Access Protection rule '),
      proc: fc.constantFrom(...PROCS),
      target: fc.constantFrom('192.0.2.1:25', '192.0.2.1:587', '[::1]:25', 'x'),
    })
    .map((l) => [...l.when, l.action, l.proc, 'Anti-virus Standard Protection:Prevent mass mailing worms from sending mail', l.target].join('\t')),
);

export const file = fc.record({
  path: fc.constantFrom('C:\\ProgramData\\McAfee\\DesktopProtection\\AccessProtectionLog.txt', '%ALLUSERSPROFILE%\\Application Data\\Network Associates\\VirusScan\\AccessProtectionLog.txt', 'C:\\other.txt'),
  exists: fc.constant(true),
  tail: fc.array(logLine, { maxLength: 6 }).map((ls) => ls.join('\r\n')),
});

export const snapshot = fc.record({
  schema: fc.constant('fleet-posture/snapshot@1'),
  snapshotId: fc.uuid(),
  collectedAt: iso,
  collector: fc.constant({ name: 'prop', version: '1' }),
  host: fc.record({ name: fc.constant('EXCH01'), utcOffsetMinutes: fc.option(fc.integer({ min: -720, max: 840 }), { nil: undefined }) }),
  registry: fc.uniqueArray(registryEntry, { selector: (e) => `${e.view}:${e.path.toLowerCase()}`, maxLength: 8 }),
  services: fc.uniqueArray(fc.constantFrom(...SERVICE_NAMES), { maxLength: 5 }).chain((names) => fc.tuple(...names.map(service))),
  files: fc.array(file, { maxLength: 2 }),
});

// A structured 8.8 or 8.0i scenario, so that rows 9 and 10 are reached often.
export const scenario = fc.record({
  gen: fc.constantFrom('80i', '88'),
  view: fc.constantFrom('64' as const, '32' as const),
  userLines: fc.array(fc.constantFrom('UserEnforce AVO10 1', 'UserEnforce AVO10 0', 'UserExclude AVO10 inetinfo.exe', 'UserExclude AVO10 outlook.exe'), { maxLength: 3 }),
  rules: fc.array(
    fc.record({
      enabled: fc.constantFrom(0, 1),
      ports: fc.constantFrom('25', '25,587', '20-30', '110', '1-1024'),
      direction: fc.constantFrom('Outbound', 'Inbound', 'Both'),
      exclude: fc.option(fc.array(fc.constantFrom(...PROCS), { maxLength: 3 }), { nil: undefined }),
      include: fc.option(fc.array(fc.constantFrom(...PROCS), { maxLength: 2 }), { nil: undefined }),
    }),
    { maxLength: 3 },
  ),
  services: fc.uniqueArray(fc.constantFrom('SMTPSVC', 'MSExchangeTransport', 'MSExchangeFrontEndTransport'), { minLength: 1, maxLength: 3 }),
  /** Which rule gets the extra exclusion: -1 = the built-in via UserExclude. */
  target: fc.integer({ min: -1, max: 2 }),
});

export type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

export function render(s: Scenario, addExclusion: boolean): unknown {
  const is80 = s.gen === '80i';
  const installed = is80 ? KEYS[0]! : KEYS[2]!;
  const bb = is80 ? KEYS[1]! : KEYS[4]!;
  const ruleValues = s.rules.flatMap((r, i) => {
    const n = i + 1;
    const exclude = [...(r.exclude ?? []), ...(addExclusion && s.target === i ? ['EdgeTransport.exe'] : [])];
    return [
      { name: `PortBlockRuleName_${n}`, type: 'REG_SZ', data: `Custom rule ${n}` },
      { name: `PortBlockEnabled_${n}`, type: 'REG_DWORD', data: r.enabled },
      { name: `PortBlockPorts_${n}`, type: 'REG_SZ', data: r.ports },
      { name: `PortBlockDirection_${n}`, type: 'REG_SZ', data: r.direction },
      ...(exclude.length > 0 || r.exclude ? [{ name: `PortBlockExcludedProcesses_${n}`, type: 'REG_MULTI_SZ', data: exclude }] : []),
      ...(r.include ? [{ name: `PortBlockIncludedProcesses_${n}`, type: 'REG_SZ', data: r.include.join(';') }] : []),
    ];
  });
  const lines = [...s.userLines, ...(addExclusion && s.target === -1 ? ['UserExclude AVO10 EdgeTransport.exe'] : [])];
  const apur = is80 ? [] : [{ name: 'AccessProtectionUserRules', type: 'REG_BINARY', data: b64(`AccessProtection {\r\n${lines.map((l) => l + '\r\n').join('')}}\r\n\0`) }];
  return {
    schema: 'fleet-posture/snapshot@1',
    snapshotId: '0b6f3a2e-6a55-4f0e-9d47-2f7cfb7f4c11',
    collectedAt: '2026-11-27T23:00:00.000Z',
    collector: { name: 'prop', version: '1' },
    host: { name: 'EXCH01' },
    registry: [
      { path: installed, view: s.view, exists: true, values: [{ name: 'szProductVer', type: 'REG_SZ', data: is80 ? '8.0.0.912' : '8.8.0.1804' }] },
      { path: bb, view: s.view, exists: true, values: [{ name: 'APEnabled', type: 'REG_DWORD', data: 1 }, ...apur, ...ruleValues] },
    ],
    services: [
      { name: 'McShield', state: 'Running', started: true },
      ...s.services.map((name) => ({ name, state: 'Running', started: true, pathName: 'C:\\WINDOWS\\System32\\inetsrv\\inetinfo.exe' })),
    ],
    files: [],
  };
}

/** A structured scenario with log files and an offset: gets past the first rows often. */
export const structured = fc.tuple(scenario, fc.array(file, { maxLength: 2 }), fc.option(fc.integer({ min: -720, max: 840 }), { nil: undefined })).map(([s, files, offset]) => {
  const doc = render(s, false) as Record<string, unknown>;
  return { ...doc, host: { name: 'EXCH01', ...(offset === undefined ? {} : { utcOffsetMinutes: offset }) }, files };
});
