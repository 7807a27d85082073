// The fields each alert query reads (`record.x`) against the records the code writes, as the real
// emitters write them: a field the query names but the record lacks (or spells otherwise) is an
// empty string in KQL, so its alert never fires or splits everything into one blank dimension.
// The emitters that need no storage run here; the records of the others are read in the service
// tests (alertRecords) — this file covers the finding, Unknown, backlog, refusal and held-change rules.

import { describe, expect, it } from 'vitest';
import type { AlertLog } from '../../src/app/alert-log';
import { logRefusal } from '../../src/app/enrolment';
import { HeldEntries, type HeldEntriesDeps } from '../../src/app/held-entries';
import { LOG_RECORDS } from '../../src/app/log-records';
import { ProjectionAlerts } from '../../src/app/projection-alerts';
import { logBacklog } from '../../src/app/projector-backlog';
import type { ProjectionWork } from '../../src/app/projection-work';
import type { PostureStore, StoredOutboxEntry } from '../../src/store';
import type { JsonObject } from './arm';
import { evaluateString, resourcesOfType } from './arm';

/** Every query on a record, by the record name it starts with. */
function queriesByRecord(): Map<string, string[]> {
  const { scope } = resourcesOfType('Microsoft.Insights/scheduledQueryRules')[0]!;
  const out = new Map<string, string[]>();
  for (const r of scope.template.variables?.alertRules as JsonObject[]) {
    const query = String(evaluateString(scope, r.query));
    const name = /message startswith "(FleetPosture\.\w+) "/.exec(query)?.[1];
    if (name) out.set(name, [...(out.get(name) ?? []), query]);
  }
  return out;
}

/** `record.x` read as tostring / toint: the field and the JSON type it must have. */
function fieldsRead(query: string): { field: string; type: 'string' | 'number' | 'boolean-or-string' }[] {
  return [...query.matchAll(/\b(tostring|toint)\(record\.(\w+)\)/g)].map((m) => ({
    field: m[2]!,
    // tostring(record.waived) != "true" reads a JSON boolean as its text.
    type: m[1] === 'toint' ? 'number' : m[2] === 'waived' ? 'boolean-or-string' : 'string',
  }));
}

/** The records an AlertLog received, parsed. */
function capture(): { log: AlertLog; records: { name: string; fields: Record<string, unknown> }[] } {
  const records: { name: string; fields: Record<string, unknown> }[] = [];
  return {
    records,
    log: {
      log: (message) => {
        const m = /^(FleetPosture\.\w+) (\{.*\})$/.exec(message);
        if (m) records.push({ name: m[1]!, fields: JSON.parse(m[2]!) as Record<string, unknown> });
      },
    },
  };
}

const work = (status: string, previousStatus: string | undefined): ProjectionWork =>
  ({
    v: 1,
    server: 'exch01.corp.contoso.com',
    commitId: `c-${status}`,
    events: [],
    index: [],
    alerts: [{ server: 'exch01.corp.contoso.com', ruleId: 'mcafee-port25-blocked', status, reasonCode: 'SmtpNotExcluded', previousStatus, snapshotId: `s-${status}`, firstSeen: 1, cause: 'snapshot' }],
  }) as unknown as ProjectionWork;

async function emitted(): Promise<{ name: string; fields: Record<string, unknown> }[]> {
  const { log, records } = capture();
  // Requeued is empty, so the store is not read; no waiver covers the findings.
  const alerts = new ProjectionAlerts({ store: {} as PostureStore, waivers: () => Promise.resolve(() => undefined) });
  await alerts.log([work('Warning', 'Pass'), work('Error', 'Warning'), work('Pass', 'Error'), work('Unknown', 'Pass')], log, new Set());
  logBacklog(log, { waiting: 3, more: false, oldestAt: 0, oldestServer: 'exch02.corp.contoso.com' }, 20 * 60_000);
  logRefusal(log, 'exch03.corp.contoso.com', 'revoked');
  const outbox = { hold: () => Promise.resolve() } as unknown as HeldEntriesDeps['outbox'];
  await new HeldEntries({ outbox } as HeldEntriesDeps).hold({ server: 'exch04.corp.contoso.com', commitId: 'c-held' } as StoredOutboxEntry, 'TypeError: x', true, log);
  return records;
}

describe('alert queries read the fields the records carry', () => {
  it('every field a query reads on NewFinding, VerdictUnknown, ProjectorBacklog, ServerKeyRefused and ProjectionHeld is in each such record, with the type the query converts', async () => {
    const records = await emitted();
    const queries = queriesByRecord();
    const checked = [LOG_RECORDS.newFinding, LOG_RECORDS.verdictUnknown, LOG_RECORDS.projectorBacklog, LOG_RECORDS.serverKeyRefused, LOG_RECORDS.projectionHeld];
    for (const name of checked) {
      const ofName = records.filter((r) => r.name === name);
      expect(ofName.length, name).toBeGreaterThan(0);
      expect(queries.get(name)?.length, name).toBeGreaterThan(0);
      for (const query of queries.get(name)!) {
        for (const { field, type } of fieldsRead(query)) {
          for (const r of ofName) {
            const value = r.fields[field];
            // recordId may be absent on records older than it (the query falls back); every record written now has it.
            expect(value, `${name}.${field}`).not.toBeUndefined();
            if (type === 'number') expect(typeof value, `${name}.${field}`).toBe('number');
            else if (type === 'string') expect(typeof value, `${name}.${field}`).toBe('string');
            else expect(['boolean', 'string'], `${name}.${field}`).toContain(typeof value);
          }
        }
      }
    }
    // The statuses the finding rules compare with, as the record spells them.
    const statuses = records.filter((r) => r.name === LOG_RECORDS.newFinding).map((r) => r.fields.status);
    expect(statuses.sort()).toEqual(['Error', 'Warning']);
    for (const query of queries.get(LOG_RECORDS.newFinding)!) expect(query).toMatch(/Status == "(Error|Warning)" and tostring\(record\.waived\) != "true"/);
    // The waiver flag: a JSON boolean, whose text is "true" / "false" in KQL.
    expect(records.filter((r) => r.name === LOG_RECORDS.newFinding).map((r) => r.fields.waived)).toEqual([false, false]);
  });
});
