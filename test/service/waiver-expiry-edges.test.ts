// A finding near a waiver's expiry alerts exactly once, whichever side of the expiry its projection
// falls. The projector holds an alert back when the waiver covered the finding when it began (its
// firstSeen, the snapshot's collectedAt), and the expiry re-raises exactly those. Before, the
// projector asked whether the waiver covered it at projection time: a collector clock a few minutes
// fast (the service takes up to five) dated a finding after the expiry that was projected before
// it — held back, then skipped by the expiry, never alerted; and a projection that ran late past
// the expiry alerted a finding the expiry then raised again. On Azurite over real HTTP, with an
// injected clock and the projector run by the test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertRecords, post } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

const MIN = 60_000;
const T0 = Date.parse('2026-11-28T00:00:00.000Z');
/** Each server's waiver ends at its own time, so one test's expiry run leaves the other's waiver alone. */
const EXPIRY = { FAST1: T0 + 60 * MIN, LATE1: T0 + 120 * MIN } as const;
let now = T0;
let stack: TestStack;
const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;

const admin = async (method: string, path: string, body?: unknown) => {
  const r = await stack.request(path, { method, key: 'admin', headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
};
/** The Warning alert records of a server: whether each went out waived, and why. */
const warnings = (host: string) =>
  alertRecords(stack)
    .filter((r) => r.name === 'FleetPosture.NewFinding' && r.fields.server === server(host) && r.fields.status === 'Warning')
    .map((r) => [r.fields.waived, r.fields.cause]);

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, clock: () => now, projectorIntervalMs: 0 });
  for (const host of ['FAST1', 'LATE1'] as const) {
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: now - MIN }))).status).toBe(201);
    const w = { rule: 'test-alpha', server: server(host), justification: 'Accepted until the relay migration.', grantedBy: 'ciso@contoso.com', expiresAt: new Date(EXPIRY[host]).toISOString() };
    expect((await admin('PUT', `waivers/${host.toLowerCase()}`, w)).status).toBe(201);
  }
});
afterAll(async () => stack?.stop());

describe('a finding at the edge of a waiver expiry', () => {
  it('dated after the expiry by a fast collector clock but projected before it: alerted at once, not raised again', async () => {
    now = EXPIRY.FAST1 - 2 * MIN;
    // The collector's clock is three minutes ahead: its snapshot is dated a minute past the expiry.
    expect((await post(stack, snapshot({ host: 'FAST1', testState: 'Warning', collectedAt: now + 3 * MIN }))).status).toBe(201);
    expect(warnings('FAST1')).toEqual([[false, 'snapshot']]);
    now = EXPIRY.FAST1 + MIN;
    expect((await admin('POST', 'jobs/waiver-expiry/run')).body.result).toMatchObject({ reRaised: 0 });
    expect(warnings('FAST1')).toEqual([[false, 'snapshot']]);
  });

  it('begun before the expiry but projected after it: held back, then raised by the expiry, once', async () => {
    now = EXPIRY.LATE1 - MIN;
    expect((await post(stack, snapshot({ host: 'LATE1', testState: 'Warning', collectedAt: EXPIRY.LATE1 - 30_000 }), { drain: false })).status).toBe(201);
    now = EXPIRY.LATE1 + 10_000;
    await stack.projected();
    expect(warnings('LATE1')).toEqual([[true, 'snapshot']]);
    expect((await admin('POST', 'jobs/waiver-expiry/run')).body.result).toMatchObject({ reRaised: 1 });
    expect(warnings('LATE1')).toEqual([
      [true, 'snapshot'],
      [false, 'waiver-expired'],
    ]);
    // Its own record id (the alert rules keep the first record per id), not the held-back one's.
    const ids = alertRecords(stack)
      .filter((r) => r.name === 'FleetPosture.NewFinding' && r.fields.server === server('LATE1'))
      .map((r) => r.fields.recordId);
    expect(ids.every((id) => typeof id === 'string' && id !== '')).toBe(true);
    expect(new Set(ids).size).toBe(2);
  });
});
