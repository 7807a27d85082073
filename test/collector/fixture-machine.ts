// A Windows machine for the real collector to run against under pwsh: the fixture file its edge
// reads come from (registry, services, OS, DNS name, the log files' bytes), built from one of
// collector/examples/*.json, and the process environment Windows would give it.
import { utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';

interface ExampleFile {
  readonly path: string;
  readonly exists: boolean;
  readonly tail?: string;
  readonly lastWriteTime?: string;
}

export interface ExampleSnapshot {
  readonly host: { readonly name: string; readonly fqdn?: string; readonly os?: { readonly architecture?: string }; readonly utcOffsetMinutes: number };
  readonly registry: unknown[];
  readonly services: unknown[];
  readonly files: ExampleFile[];
}

export interface FixtureMachine {
  /** Environment for pwsh: FLEET_POSTURE_FIXTURE, COMPUTERNAME, PROCESSOR_ARCHITECTURE, profile folders, TZ. */
  readonly env: Record<string, string>;
}

const PROFILE_SUFFIX = '\\Application Data\\McAfee\\DesktopProtection\\AccessProtectionLog.txt';
const PROGRAMDATA_SUFFIX = '\\McAfee\\DesktopProtection\\AccessProtectionLog.txt';

/** The folder %VAR% stood for in an expanded manifest path, or undefined when it stayed unexpanded. */
function folderBefore(expanded: string | undefined, suffix: string): string | undefined {
  if (!expanded || expanded.startsWith('%') || !expanded.endsWith(suffix)) return undefined;
  return expanded.slice(0, -suffix.length);
}

/** Writes the fixture (and the log files, UTF-16LE with BOM as VirusScan writes them) into `dir`. */
export function fixtureMachine(example: ExampleSnapshot, dir: string): FixtureMachine {
  const files: { path: string; file: string }[] = [];
  example.files.forEach((f, i) => {
    if (!f.exists || f.tail === undefined) return;
    const file = path.join(dir, `file${i}.txt`);
    writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(f.tail, 'utf16le')]));
    if (f.lastWriteTime) utimesSync(file, new Date(f.lastWriteTime), new Date(f.lastWriteTime));
    files.push({ path: f.path, file });
  });
  const fixture = path.join(dir, 'fixture.json');
  writeFileSync(fixture, JSON.stringify({ host: example.host, registry: example.registry, services: example.services, files }));

  const offset = example.host.utcOffsetMinutes;
  if (offset % 60 !== 0) throw new Error(`utcOffsetMinutes ${offset}: only whole hours map to an Etc/GMT zone`);
  const env: Record<string, string> = {
    FLEET_POSTURE_FIXTURE: fixture,
    COMPUTERNAME: example.host.name,
    PROCESSOR_ARCHITECTURE: /64/.test(example.host.os?.architecture ?? '') ? 'AMD64' : 'x86',
    // Etc/GMT+5 is UTC-5: the sign is inverted.
    TZ: `Etc/GMT${offset <= 0 ? '+' : '-'}${Math.abs(offset) / 60}`,
  };
  const allUsers = folderBefore(example.files[0]?.path, PROFILE_SUFFIX);
  if (allUsers) env.ALLUSERSPROFILE = allUsers;
  const programData = folderBefore(example.files[2]?.path, PROGRAMDATA_SUFFIX);
  if (programData) env.ProgramData = programData;
  return { env };
}
