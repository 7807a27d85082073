// The alert records the projector logs, without storage: which record each status change owes
// (a new finding, a finding resolved, a verdict turned Unknown, or two of them), its fields, a
// waiver marking it rather than silencing it, each record id logged once by a running projector,
// and a change held and requeued after its server changed again logged as superseded instead of
// paging. The service tests read the same records from the local host's log after real posts.
import { describe, expect, it } from 'vitest';
import type { ProjectionAlertsDeps } from '../../src/app/projection-alerts';
import { ProjectionAlerts } from '../../src/app/projection-alerts';
import { alertRecordId, type AlertWork, type ProjectionWork } from '../../src/app/projection-work';
import type { PostureStore, StoredResult } from '../../src/store';

const FIRST_SEEN = Date.parse('2026-12-06T09:00:00Z');

const alert = (over: Partial<AlertWork> = {}): AlertWork => ({
  server: 'exch1.contoso.com',
  ruleId: 'mcafee-port25-blocked',
  status: 'Warning',
  reasonCode: 'SmtpNotExcluded',
  previousStatus: 'Pass',
  snapshotId: 's-2',
  firstSeen: FIRST_SEEN,
  cause: 'the snapshot',
  ...over,
});

const work = (commitId: string, alerts: AlertWork[]): ProjectionWork => ({ v: 1, server: alerts[0]?.server ?? 'x', commitId, proofRule: 'mcafee-port25-blocked', events: [], alerts, index: [] });

/** A log that keeps its lines, each as its record name and fields (or the plain text). */
function fakeLog() {
  const lines: string[] = [];
  return { log: { log: (line: string) => void lines.push(line) }, lines, records: () => lines.map(parse) };
}

function parse(line: string): { name: string; fields?: Record<string, unknown> } {
  const space = line.indexOf(' {');
  return space < 0 ? { name: line } : { name: line.slice(0, space), fields: JSON.parse(line.slice(space + 1)) as Record<string, unknown> };
}

/** Deps whose store answers `rows` (by server) and counts its reads; `waivers` as given. */
function deps(opts: { rows?: Record<string, Partial<StoredResult> | null>; waivers?: ProjectionAlertsDeps['waivers']; parallel?: number } = {}) {
  const reads: string[] = [];
  let waiverReads = 0;
  const store = {
    readResultRow: async (server: string, ruleId: string) => {
      reads.push(`${server} ${ruleId}`);
      return opts.rows?.[server] ?? null;
    },
  } as unknown as PostureStore;
  const waivers: ProjectionAlertsDeps['waivers'] = () => {
    waiverReads++;
    return opts.waivers ? opts.waivers() : Promise.resolve(() => undefined);
  };
  return { deps: { store, waivers, ...(opts.parallel === undefined ? {} : { parallel: opts.parallel }) }, reads, waiverReads: () => waiverReads };
}

const NONE = new Set<string>();

describe('the record a change owes', () => {
  it('is a NewFinding with every field for a Warning or an Error', async () => {
    const { log, records } = fakeLog();
    const a = alert();
    const b = alert({ server: 'exch2.contoso.com', status: 'Error', reasonCode: 'BlockObserved', previousStatus: undefined, cause: 'the log' });
    const logged = await new ProjectionAlerts(deps().deps).log([work('c1', [a]), work('c2', [b])], log, NONE);
    expect(logged).toBe(2);
    expect(records()).toStrictEqual([
      {
        name: 'FleetPosture.NewFinding',
        fields: { server: a.server, rule: a.ruleId, status: 'Warning', reasonCode: 'SmtpNotExcluded', previousStatus: 'Pass', snapshotId: 's-2', recordId: alertRecordId(a), waived: false, waiverId: null, cause: 'the snapshot' },
      },
      {
        name: 'FleetPosture.NewFinding',
        fields: { server: b.server, rule: b.ruleId, status: 'Error', reasonCode: 'BlockObserved', previousStatus: null, snapshotId: 's-2', recordId: alertRecordId(b), waived: false, waiverId: null, cause: 'the log' },
      },
    ]);
  });

  it('is a FindingResolved when a Warning or an Error leaves for anything but Unknown', async () => {
    const { log, records } = fakeLog();
    const a = alert({ status: 'Pass', reasonCode: 'SmtpExcluded', previousStatus: 'Warning' });
    const b = alert({ server: 'exch2', status: 'NotApplicable', reasonCode: 'NoVirusScan', previousStatus: 'Error' });
    expect(await new ProjectionAlerts(deps().deps).log([work('c1', [a, b])], log, NONE)).toBe(2);
    expect(records()).toStrictEqual([
      { name: 'FleetPosture.FindingResolved', fields: { server: a.server, rule: a.ruleId, status: 'Pass', reasonCode: 'SmtpExcluded', previousStatus: 'Warning', snapshotId: 's-2', recordId: alertRecordId(a), cause: 'the snapshot' } },
      { name: 'FleetPosture.FindingResolved', fields: { server: 'exch2', rule: b.ruleId, status: 'NotApplicable', reasonCode: 'NoVirusScan', previousStatus: 'Error', snapshotId: 's-2', recordId: alertRecordId(b), cause: 'the snapshot' } },
    ]);
  });

  it('is a VerdictUnknown on entering Unknown, and both records when an Error turns Unknown', async () => {
    const { log, records } = fakeLog();
    const fromPass = alert({ status: 'Unknown', reasonCode: 'ConfigUnreadable', previousStatus: 'Pass' });
    const fromNothing = alert({ server: 'exch2', status: 'Unknown', reasonCode: 'ConfigUnreadable', previousStatus: undefined });
    const fromError = alert({ server: 'exch3', status: 'Unknown', reasonCode: 'ConfigUnreadable', previousStatus: 'Error' });
    expect(await new ProjectionAlerts(deps().deps).log([work('c1', [fromPass]), work('c2', [fromNothing]), work('c3', [fromError])], log, NONE)).toBe(4);
    const base = (a: AlertWork) => ({ server: a.server, rule: a.ruleId, status: 'Unknown', reasonCode: 'ConfigUnreadable', previousStatus: a.previousStatus ?? null, snapshotId: 's-2', recordId: alertRecordId(a), cause: 'the snapshot' });
    expect(records()).toStrictEqual([
      { name: 'FleetPosture.VerdictUnknown', fields: base(fromPass) },
      { name: 'FleetPosture.VerdictUnknown', fields: base(fromNothing) },
      { name: 'FleetPosture.FindingResolved', fields: base(fromError) },
      { name: 'FleetPosture.VerdictUnknown', fields: base(fromError) },
    ]);
  });

  it('is nothing for a change between two statuses that neither are findings nor Unknown', async () => {
    const { log, lines } = fakeLog();
    const alerts = new ProjectionAlerts(deps().deps);
    expect(await alerts.log([work('c1', [alert({ status: 'Pass', previousStatus: 'NotApplicable' }), alert({ server: 'exch2', status: 'Pass', previousStatus: undefined })])], log, NONE)).toBe(0);
    expect(lines).toStrictEqual([]);
  });

  it('is nothing for a batch that owes no alert, without reading the waivers', async () => {
    const { log, lines } = fakeLog();
    const d = deps();
    expect(await new ProjectionAlerts(d.deps).log([work('c1', [])], log, NONE)).toBe(0);
    expect([lines, d.waiverReads(), d.reads]).toStrictEqual([[], 0, []]);
  });
});

describe('waivers', () => {
  it('mark a finding under a waiver in force since it was first seen, and the record still goes out', async () => {
    const { log, records } = fakeLog();
    const asked: unknown[] = [];
    const d = deps({ waivers: async () => (server, ruleId, since) => (asked.push([server, ruleId, since]), server === 'exch1.contoso.com' ? 'w-1' : undefined) });
    await new ProjectionAlerts(d.deps).log([work('c1', [alert(), alert({ server: 'exch2', status: 'Error' })])], log, NONE);
    expect(records().map((r) => [r.fields?.server, r.fields?.waived, r.fields?.waiverId])).toStrictEqual([
      ['exch1.contoso.com', true, 'w-1'],
      ['exch2', false, null],
    ]);
    expect(asked).toStrictEqual([
      ['exch1.contoso.com', 'mcafee-port25-blocked', FIRST_SEEN],
      ['exch2', 'mcafee-port25-blocked', FIRST_SEEN],
    ]);
    expect(d.waiverReads()).toBe(1);
  });

  it('mark a finding in a batch that also resolves one', async () => {
    const { log, records } = fakeLog();
    const d = deps({ waivers: async () => () => 'w-1' });
    await new ProjectionAlerts(d.deps).log([work('c1', [alert({ server: 'exch2', status: 'Pass', previousStatus: 'Warning' }), alert()])], log, NONE);
    expect(records().map((r) => [r.name, r.fields?.waived])).toStrictEqual([
      ['FleetPosture.FindingResolved', undefined],
      ['FleetPosture.NewFinding', true],
    ]);
  });

  it('are read only for a batch with a finding', async () => {
    const d = deps();
    await new ProjectionAlerts(d.deps).log([work('c1', [alert({ status: 'Pass', previousStatus: 'Warning' }), alert({ server: 'exch2', status: 'Unknown' })])], fakeLog().log, NONE);
    expect(d.waiverReads()).toBe(0);
  });

  it('cannot cost an alert: when they cannot be read, the finding goes out unwaived', async () => {
    const { log, records } = fakeLog();
    const d = deps({ waivers: () => Promise.reject(new Error('storage down')) });
    expect(await new ProjectionAlerts(d.deps).log([work('c1', [alert()])], log, NONE)).toBe(1);
    expect(records().map((r) => [r.name, r.fields?.waived, r.fields?.waiverId])).toStrictEqual([['FleetPosture.NewFinding', false, null]]);
  });
});

describe('each record once', () => {
  it('logs a record id only once in a running projector, whether its entry comes again or another carries it', async () => {
    const { log, lines } = fakeLog();
    const alerts = new ProjectionAlerts(deps().deps);
    const a = alert();
    await alerts.log([work('c1', [a])], log, NONE);
    expect(await alerts.log([work('c1', [a]), work('c9', [{ ...a }])], log, NONE)).toBe(0);
    expect(lines).toHaveLength(1);
    // Another status or snapshot is another record.
    expect(await alerts.log([work('c2', [alert({ snapshotId: 's-3' })]), work('c3', [alert({ status: 'Error' })])], log, NONE)).toBe(2);
  });

  it('remembers a change that owed no record, too', async () => {
    const d = deps({ rows: {} });
    const alerts = new ProjectionAlerts(d.deps);
    const quiet = alert({ status: 'Pass', previousStatus: 'NotApplicable' });
    await alerts.log([work('c1', [quiet])], fakeLog().log, NONE);
    await alerts.log([work('c1', [quiet])], fakeLog().log, new Set(['c1']));
    expect(d.reads).toStrictEqual([]);
  });
});

describe('a requeued change', () => {
  it('is logged while its status and firstSeen are still those of the current row of its rule', async () => {
    const { log, records } = fakeLog();
    const a = alert();
    const d = deps({ rows: { [a.server]: { status: 'Warning', firstSeen: FIRST_SEEN } } });
    expect(await new ProjectionAlerts(d.deps).log([work('c1', [a])], log, new Set(['c1']))).toBe(1);
    expect(records().map((r) => r.name)).toStrictEqual(['FleetPosture.NewFinding']);
    expect(d.reads).toStrictEqual([`${a.server} ${a.ruleId}`]);
  });

  it('is logged as superseded, not as an alert record, once a later change replaced it, and not again', async () => {
    const { log, lines } = fakeLog();
    const a = alert();
    const b = alert({ server: 'exch2' });
    const c = alert({ server: 'exch3' });
    const d = deps({ rows: { [a.server]: { status: 'Pass', firstSeen: FIRST_SEEN }, [b.server]: { status: 'Warning', firstSeen: FIRST_SEEN + 1 }, [c.server]: null } });
    const alerts = new ProjectionAlerts(d.deps);
    expect(await alerts.log([work('c1', [a]), work('c2', [b]), work('c3', [c])], log, new Set(['c1', 'c2', 'c3']))).toBe(0);
    expect(lines).toStrictEqual(
      [a, b, c].map((x) => `projector: the Warning record of ${x.server} / mcafee-port25-blocked (snapshot s-2) was superseded by a later change while its entry was held; not logged as an alert.`),
    );
    expect(await alerts.log([work('c1', [a])], log, NONE)).toBe(0);
    expect(lines).toHaveLength(3);
  });

  it('is checked only when requeued: the store is not read for the others', async () => {
    const d = deps({ rows: { exch2: { status: 'Warning', firstSeen: FIRST_SEEN } } });
    const { log, records } = fakeLog();
    expect(await new ProjectionAlerts(d.deps).log([work('c1', [alert()]), work('c2', [alert({ server: 'exch2' })])], log, new Set(['c2']))).toBe(2);
    expect(d.reads).toStrictEqual(['exch2 mcafee-port25-blocked']);
    expect(records().map((r) => r.fields?.server)).toStrictEqual(['exch1.contoso.com', 'exch2']);
  });

  it('rows are read at most 16 at once, or as many as the deps allow', async () => {
    for (const [parallel, most] of [[undefined, 16], [3, 3]] as const) {
      let now = 0;
      let peak = 0;
      const store = {
        readResultRow: async () => {
          peak = Math.max(peak, ++now);
          await new Promise((resolve) => setTimeout(resolve, 1));
          now--;
          return { status: 'Warning', firstSeen: FIRST_SEEN };
        },
      } as unknown as PostureStore;
      const works = Array.from({ length: 40 }, (_, i) => work(`c${i}`, [alert({ server: `s${i}` })]));
      const alerts = new ProjectionAlerts({ store, waivers: async () => () => undefined, ...(parallel === undefined ? {} : { parallel }) });
      expect(await alerts.log(works, fakeLog().log, new Set(works.map((w) => w.commitId)))).toBe(40);
      expect(peak).toBe(most);
    }
  });
});
