// Every sample snapshot under collector/examples (what Send-PostureSnapshot.ps1 -OutFile writes, one
// per supported Windows/Exchange/VirusScan generation) holds to the wire contract; the one for
// Windows Server 2003, which cannot run the collector, is what import-reg prints, and stays so.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSnapshot } from '../../src/snapshot/parse';
import { manifestSchema, snapshotSchema } from '../../src/snapshot/schema';
import { decodeText } from '../../src/cli/io';
import { evaluateDocument } from '../../src/app/evaluate-document';
import { main } from '../../src/cli/main';
import { fakeIo } from './cli-io';

const DIR = join(__dirname, '..', '..', 'collector', 'examples');
const SNAPSHOTS = readdirSync(DIR).filter((f) => f.endsWith('.json') && !f.startsWith('manifest'));
const IMPORT_REG_2003 = join('import-reg', 'win2003r2-x86-exchange2003-vse80i.json');
const manifest = manifestSchema.parse(JSON.parse(readFileSync(join(DIR, 'manifest.reference.json'), 'utf8')));

function load(file: string): unknown {
  return JSON.parse(decodeText(readFileSync(join(DIR, file))));
}

describe('collector/examples', () => {
  it('hold one sample per generation the collector runs on, from Windows 2008 to 2019, and none for Windows 2003', () => {
    expect(SNAPSHOTS.length).toBeGreaterThanOrEqual(4);
    expect(SNAPSHOTS.some((f) => f.startsWith('win2008'))).toBe(true);
    expect(SNAPSHOTS.some((f) => f.includes('no-mcafee'))).toBe(true);
    // Windows Server 2003 is 5.2: the collector cannot run there, so -OutFile never wrote such a file.
    for (const file of SNAPSHOTS) expect(snapshotSchema.parse(load(file)).host.os?.version ?? '', file).not.toMatch(/^5\./);
  });

  it('the Windows 2003 sample is what import-reg prints for its fixture (the command in its README)', async () => {
    const io = fakeIo();
    const fixtures = join(__dirname, '..', 'fixtures', 'reg');
    const args = ['import-reg', join(fixtures, 'EXCH03-vse80i-excluded.reg'), '--arch', 'x86', '--services', join(fixtures, 'services-ex2003.csv'), '--host', 'EXCH2003'];
    expect(await main(args, io), io.stderr).toBe(0);
    const fresh = (doc: unknown) => ({ ...(doc as object), snapshotId: undefined, collectedAt: undefined });
    expect(fresh(load(IMPORT_REG_2003))).toEqual(fresh(JSON.parse(io.stdout)));
  });

  for (const file of SNAPSHOTS) {
    describe(file, () => {
      const doc = load(file);

      it('validates against the zod schema and parseSnapshot (no duplicate keys or services)', () => {
        const z = snapshotSchema.safeParse(doc);
        expect(z.success ? '' : JSON.stringify(z.error.issues)).toBe('');
        const parsed = parseSnapshot(doc, { now: Date.parse('2100-01-01T00:00:00Z') });
        expect(parsed.ok ? '' : JSON.stringify(parsed.issues)).toBe('');
      });

      it('answers the reference manifest in every view the OS has', () => {
        const s = snapshotSchema.parse(doc);
        expect(s.collector.name).toBe('Send-PostureSnapshot');
        expect(s.collector.manifestVersion).toBe(manifest.version);
        const x64 = /64/.test(s.host.os?.architecture ?? '');
        const views = x64 ? ['64', '32'] : ['32'];
        for (const key of manifest.registry) {
          for (const view of views) {
            const found = s.registry.filter((e) => e.path.toLowerCase() === key.path.toLowerCase() && e.view === view);
            expect(found, `${key.path} view ${view}`).toHaveLength(1);
          }
        }
        if (!x64) expect(s.registry.every((e) => e.view === '32')).toBe(true);
        for (const entry of s.registry) {
          // A key that exists was read (values present) or says why not (error).
          if (entry.exists) expect(entry.values !== undefined || entry.error !== undefined).toBe(true);
        }
        expect(s.files).toHaveLength(manifest.files.length);
        for (const svc of s.services) expect(manifest.services.map((n) => n.toLowerCase())).toContain(svc.name.toLowerCase());
        expect(s.host.utcOffsetMinutes).toBeTypeOf('number');
      });

      it('keeps file tails cut at a line start', () => {
        const s = snapshotSchema.parse(doc);
        for (const f of s.files) if (f.tail) expect(/^\d/.test(f.tail)).toBe(true);
      });
    });
  }

  it('evaluate to the verdicts they were written to show', () => {
    const expected: Record<string, string> = {
      [IMPORT_REG_2003]: 'Pass SmtpExcluded',
      'win2008-x64-exchange2007-vse85i.json': 'Warning SmtpNotExcluded',
      'win2008r2-x64-exchange2010-vse87i.json': 'Error BlockObserved',
      'win2012r2-x64-exchange2016-vse88.json': 'Pass SmtpExcluded',
      'win2019-x64-exchange2019-no-mcafee.json': 'NotApplicable NotInstalled',
    };
    for (const [file, verdict] of Object.entries(expected)) {
      const r = evaluateDocument(load(file));
      if (!r.ok) throw new Error(`${file}: ${JSON.stringify(r.issues)}`);
      const port25 = r.results.find((x) => x.ruleId === 'mcafee-port25-blocked');
      expect(`${port25?.status} ${port25?.reasonCode}`, file).toBe(verdict);
    }
  });

  it('the reference manifest validates against the manifest schema', () => {
    expect(manifest.registry.length).toBeGreaterThan(0);
  });
});
