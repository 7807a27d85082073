// Snapshot documents for the benchmark: the port-25 fixtures when the repository has them
// (test/fixtures/port25), otherwise synthetic documents written from the contract. Also the rule
// set the benchmark loads, and the "status change" pair of documents.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { evaluateAll, RULES } from '../../src/rules/registry';
import type { Rule, Status } from '../../src/rules/types';
import type { NormalisedSnapshot } from '../../src/snapshot/normalise';
import { parseSnapshot } from '../../src/snapshot/parse';
import { bigTail } from '../rule-eval';

export type Doc = Record<string, unknown>;

/** The repository root (dist/bench/lib → ../../..). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const FIXTURE_DIR = path.join(ROOT, 'test', 'fixtures', 'port25');

export interface Template {
  readonly name: string;
  /** VSE 8.0i, 8.5, 8.7, 8.8, ENS … taken from the file name (or "synthetic 8.x"). */
  readonly generation: string;
  readonly doc: Doc;
}

const clone = (d: Doc): Doc => JSON.parse(JSON.stringify(d)) as Doc;

function generationOf(file: string): string {
  const m = /^(vse80i|vse85|vse87|vse88|vse8x|ens10|no-virusscan)/.exec(file);
  const g = m?.[1] ?? 'other';
  return (
    { vse80i: 'VSE 8.0i', vse85: 'VSE 8.5', vse87: 'VSE 8.7', vse88: 'VSE 8.8', vse8x: 'VSE 8.x', ens10: 'ENS 10 (no VSE)', 'no-virusscan': 'no VirusScan' } as Record<string, string>
  )[g] ?? g;
}

// ---- synthetic documents (used when the fixtures are not in the tree) ----------------------------

const KEY80 = 'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion';
const BB80 = 'HKLM\\SOFTWARE\\Network Associates\\TVD\\Shared Components\\On Access Scanner\\BehaviourBlocking';
const KEY88 = 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection';
const BB88 = 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking';

function syntheticBase(host: string, os: { caption: string; version: string; architecture: string }): Doc {
  return {
    schema: 'fleet-posture/snapshot@1',
    snapshotId: '00000000-0000-4000-8000-000000000000',
    collectedAt: '2026-11-27T23:00:00.000Z',
    collector: { name: 'Send-PostureSnapshot', version: '1.0.0' },
    host: { name: host, fqdn: `${host.toLowerCase()}.corp.contoso.com`, os },
    registry: [],
    services: [],
    files: [],
  };
}

function synthetic80i(): Doc {
  const d = syntheticBase('EXCH03', { caption: 'Microsoft Windows Server 2003 R2 Enterprise Edition', version: '5.2.3790', architecture: '32-bit' });
  const portRules: { name: string; type: string; data: unknown }[] = [];
  const names = ['Prevent mass mailing worms from sending mail', 'Prevent IRC communication', 'Prevent use of TFTP'];
  names.forEach((n, i) => {
    portRules.push({ name: `PortBlockRuleName_${i}`, type: 'REG_SZ', data: n });
    portRules.push({ name: `PortBlockEnabled_${i}`, type: 'REG_DWORD', data: 1 });
    portRules.push({ name: `PortBlockBlock_${i}`, type: 'REG_DWORD', data: 1 });
    portRules.push({ name: `PortBlockPorts_${i}`, type: 'REG_SZ', data: i === 0 ? '25' : '6666-6669' });
    portRules.push({ name: `PortBlockExclude_${i}`, type: 'REG_SZ', data: 'inetinfo.exe,mcshield.exe,firesvc.exe' });
  });
  d.registry = [
    { path: KEY80, view: '32', exists: true, lastWriteTime: '2024-03-01T10:00:00.000Z', values: [{ name: 'szProductVer', type: 'REG_SZ', data: '8.0.0.912' }, { name: 'szInstallDir', type: 'REG_SZ', data: 'C:\\Program Files\\Network Associates\\VirusScan\\' }] },
    { path: BB80, view: '32', exists: true, lastWriteTime: '2024-03-01T10:01:00.000Z', values: [{ name: 'APEnabled', type: 'REG_DWORD', data: 1 }, ...portRules] },
    { path: KEY88, view: '32', exists: false },
    { path: BB88, view: '32', exists: false },
  ];
  d.services = [
    { name: 'McShield', displayName: 'Network Associates McShield', state: 'Running', started: true, startMode: 'Auto', pathName: 'C:\\Program Files\\Common Files\\Network Associates\\McShield\\Mcshield.exe', processId: 1204 },
    { name: 'SMTPSVC', displayName: 'Simple Mail Transfer Protocol (SMTP)', state: 'Running', started: true, startMode: 'Auto', pathName: 'C:\\WINDOWS\\system32\\inetsrv\\inetinfo.exe', processId: 1530 },
  ];
  return d;
}

function synthetic88(): Doc {
  const d = syntheticBase('EXCH10G', { caption: 'Microsoft Windows Server 2008 R2 Enterprise', version: '6.1.7601', architecture: '64-bit' });
  d.registry = [
    { path: KEY88, view: '32', exists: true, lastWriteTime: '2025-01-10T09:00:00.000Z', values: [{ name: 'szProductVer', type: 'REG_SZ', data: '8.8.0.1804' }, { name: 'szInstallDir', type: 'REG_SZ', data: 'C:\\Program Files (x86)\\McAfee\\VirusScan Enterprise\\' }, { name: 'Product', type: 'REG_SZ', data: 'McAfee VirusScan Enterprise' }] },
    { path: BB88, view: '32', exists: true, lastWriteTime: '2025-01-10T09:01:00.000Z', values: [{ name: 'APEnabled', type: 'REG_DWORD', data: 1 }, { name: 'AccessProtectionUserRules', type: 'REG_BINARY', data: 'QWNjZXNzUHJvdGVjdGlvbiB7DQp9DQoA' }] },
    { path: KEY80, view: '64', exists: false },
    { path: KEY80, view: '32', exists: false },
    { path: BB80, view: '32', exists: false },
    { path: KEY88, view: '64', exists: false },
    { path: BB88, view: '64', exists: false },
  ];
  d.services = [
    { name: 'McShield', displayName: 'McAfee McShield', state: 'Running', started: true, startMode: 'Auto', pathName: '"C:\\Program Files (x86)\\McAfee\\VirusScan Enterprise\\x64\\mcshield.exe"', processId: 1876 },
    { name: 'MSExchangeTransport', displayName: 'Microsoft Exchange Transport', state: 'Running', started: true, startMode: 'Auto', pathName: '"C:\\Program Files\\Microsoft\\Exchange Server\\V14\\Bin\\MSExchangeTransport.exe"', processId: 2412 },
  ];
  return d;
}

// ---- the rule set and its status driver ------------------------------------------------------------

/**
 * Used only when the registered rules cannot tell two snapshots apart (the placeholder rule answers
 * Unknown for everything): a rule whose verdict follows the state of a "BenchPosture" service, so a
 * status change can still be measured. Reported in the output whenever it is loaded.
 */
export const statusDriverRule: Rule = {
  id: 'bench-status-driver',
  version: '1.0.0',
  title: { en: 'Benchmark status driver', ja: 'ベンチマーク用' },
  rationale: { en: 'Drives status changes in the benchmark.', ja: 'ベンチマーク用。' },
  severity: 'Warning',
  references: [],
  reasonCodes: { Ok: 'Pass', Bad: 'Warning' },
  needs: { registry: [], services: ['BenchPosture'], files: [] },
  evaluate(s: NormalisedSnapshot) {
    const bad = s.services.get('benchposture')?.state === 'Stopped';
    return bad
      ? { status: 'Warning', reasonCode: 'Bad', message: { en: 'driver says Warning', ja: '警告' }, remediation: [{ en: 'Start it.', ja: '開始する。' }], evidence: { state: 'Stopped' } }
      : { status: 'Pass', reasonCode: 'Ok', message: { en: 'driver says Pass', ja: '合格' }, remediation: [], evidence: { state: 'Running' } };
  },
};

export function rulesFor(withDriver: boolean): readonly Rule[] {
  return withDriver ? [...RULES, statusDriverRule] : RULES;
}

export function normalise(doc: Doc): NormalisedSnapshot {
  const parsed = parseSnapshot(doc, { now: Date.parse('2100-01-01T00:00:00Z') });
  if (!parsed.ok) throw new Error(`A benchmark snapshot breaks the contract: ${JSON.stringify(parsed.issues.slice(0, 3))}`);
  return parsed.normalised;
}

export function statusesOf(doc: Doc, rules: readonly Rule[]): Status[] {
  return evaluateAll(normalise(doc), rules).map((r) => r.status);
}

// ---- the fleet -------------------------------------------------------------------------------------

export interface Fleet {
  /** "fixtures" (test/fixtures/port25) or "synthetic". */
  readonly source: 'fixtures' | 'synthetic';
  readonly rules: readonly Rule[];
  readonly withDriver: boolean;
  /** The typical snapshot every ingest server posts (8.8). */
  readonly typical: Template;
  /** Same host facts, different verdict: posted alternately with `typical` for status changes. */
  readonly changed: Template;
  /** Every template, for the query fleet's status mix and for payload sizes. */
  readonly pool: readonly Template[];
}

function setService(doc: Doc, name: string, state: string): Doc {
  const d = clone(doc);
  const services = (d.services as Doc[]).filter((s) => s.name !== name);
  services.push({ name, state, started: state === 'Running' });
  d.services = services;
  return d;
}

export function withLogTail(doc: Doc): Doc {
  const d = clone(doc);
  d.files = [{ path: 'C:\\ProgramData\\McAfee\\DesktopProtection\\AccessProtectionLog.txt', exists: true, size: 1_048_576, tail: bigTail() }];
  return d;
}

function loadFixtures(): Template[] {
  if (!existsSync(FIXTURE_DIR)) return [];
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: f.replace(/\.json$/, ''), generation: generationOf(f), doc: JSON.parse(readFileSync(path.join(FIXTURE_DIR, f), 'utf8')) as Doc }));
}

const PREFERRED_80I = 'vse80i-exchange2003-inetinfo-removed-from-list';
const PREFERRED_88 = 'vse88-x64-transport-not-excluded';

export function buildFleet(): Fleet {
  const fixtures = loadFixtures();
  const find = (name: string, gen: string) => fixtures.find((t) => t.name === name) ?? fixtures.find((t) => t.generation === gen);
  const f80 = find(PREFERRED_80I, 'VSE 8.0i');
  const f88 = find(PREFERRED_88, 'VSE 8.8');
  if (f80 && f88) {
    // A status change: another 8.8 fixture of the same host whose verdict differs.
    const base = statusesOf(f88.doc, RULES);
    const other = fixtures.find((t) => t.generation === 'VSE 8.8' && t !== f88 && statusesOf(t.doc, RULES).some((s, i) => s !== base[i]));
    const withDriver = !other;
    const rules = rulesFor(withDriver);
    const typical = withDriver ? { ...f88, doc: setService(f88.doc, 'BenchPosture', 'Running') } : f88;
    const changed = other
      ? { ...other, doc: { ...clone(other.doc), host: clone(f88.doc).host, collector: clone(f88.doc).collector } }
      : { ...f88, name: `${f88.name}+BenchPosture=Stopped`, doc: setService(f88.doc, 'BenchPosture', 'Stopped') };
    const pool = withDriver ? [...fixtures, changed] : fixtures;
    return {
      source: 'fixtures',
      rules,
      withDriver,
      typical,
      changed,
      pool,
    };
  }
  const s80: Template = { name: 'synthetic-vse80i', generation: 'VSE 8.0i', doc: synthetic80i() };
  const s88: Template = { name: 'synthetic-vse88', generation: 'VSE 8.8', doc: synthetic88() };
  const pass88 = setService(s88.doc, 'BenchPosture', 'Running');
  const base = statusesOf(s88.doc, RULES);
  const withDriver = statusesOf(s80.doc, RULES).every((s, i) => s === base[i]);
  const typical: Template = withDriver ? { ...s88, doc: pass88 } : s88;
  const changed: Template = withDriver ? { ...s88, name: 'synthetic-vse88+BenchPosture=Stopped', doc: setService(s88.doc, 'BenchPosture', 'Stopped') } : { ...s80, doc: { ...clone(s80.doc), host: clone(s88.doc).host } };
  return {
    source: 'synthetic',
    rules: rulesFor(withDriver),
    withDriver,
    typical,
    changed,
    pool: [s80, typical, changed, typical, typical],
  };
}

/** The template posted as server `i` at time `collectedAt` with a fresh id. */
export function docFor(template: Doc, server: number, snapshotId: string, collectedAt: number): Doc {
  const host = template.host as Doc;
  const name = serverName(server);
  return { ...template, snapshotId, collectedAt: new Date(collectedAt).toISOString(), host: { ...host, name, fqdn: `${name.toLowerCase()}.bench.contoso.com` } };
}

export function serverName(i: number): string {
  return `EXB${String(i).padStart(5, '0')}`;
}

export function serverId(i: number): string {
  return `${serverName(i).toLowerCase()}.bench.contoso.com`;
}
