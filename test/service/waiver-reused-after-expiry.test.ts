// A waiver reused (PUT) or deleted after its expiry but before the timer ended it: it is ended as
// expired first, so the failing results it held back alert again and the audit says it expired.
// Before, the PUT counted as a creation and the DELETE as a deletion; neither re-raised anything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertRecords, get, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

const MIN = 60_000;
let now = Date.parse('2026-11-28T00:00:00.000Z');
let stack: TestStack;
const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const r = await stack.request(path, { method, key: 'admin', headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Json) : undefined };
}

const warnings = (host: string) =>
  alertRecords(stack)
    .filter((r) => r.name === 'FleetPosture.NewFinding' && r.fields.server === server(host) && r.fields.status === 'Warning')
    .map((r) => [r.fields.waived, r.fields.cause]);

const waiverOf = (host: string, expiresAt: number) => ({ rule: 'test-alpha', server: server(host), justification: 'Relay migration.', grantedBy: 'ciso@contoso.com', expiresAt: new Date(expiresAt).toISOString() });

/** A waiver of `host` for an hour; the host turns Warning under it; at 61 min `change` is made; then the timer runs. */
async function pastExpiry(host: string, id: string, change: () => Promise<{ status: number }>): Promise<{ status: number; audit: string[] }> {
  const start = now;
  expect((await admin('PUT', `waivers/${id}`, waiverOf(host, start + 60 * MIN))).status).toBe(201);
  now = start + 10 * MIN;
  expect((await post(stack, snapshot({ host, testState: 'Warning', collectedAt: now - 30_000 }))).status).toBe(201);
  now = start + 61 * MIN;
  const { status } = await change();
  now += 20 * MIN;
  expect((await admin('POST', 'jobs/waiver-expiry/run')).status).toBe(200);
  const events = await get(stack, 'events?kind=waiver');
  return { status, audit: events.body.items.filter((e: Json) => e.waiverId === id).map((e: Json) => e.cause).reverse() };
}

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, clock: () => now, projectorIntervalMs: 0 });
  for (const host of ['EXCH41', 'EXCH42', 'EXCH51']) expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: now - MIN }))).status).toBe(201);
});
afterAll(async () => stack?.stop());

describe('a waiver past its expiry that the timer has not ended yet', () => {
  it('reused for another server: it expires first, the held-back finding alerts, then the reuse is a creation', async () => {
    const r = await pastExpiry('EXCH41', 'w-reuse', () => admin('PUT', 'waivers/w-reuse', waiverOf('EXCH42', now + 30 * 24 * 60 * MIN)));
    expect(r.status).toBe(201);
    expect(warnings('EXCH41')).toEqual([
      [true, 'snapshot'],
      [false, 'waiver-expired'],
    ]);
    expect(r.audit).toEqual(['waiver-created', 'waiver-expired', 'waiver-created']);
  });

  it('deleted: it expires, the held-back finding alerts, and the DELETE finds no active waiver (404)', async () => {
    const r = await pastExpiry('EXCH51', 'w-gone', () => admin('DELETE', 'waivers/w-gone'));
    expect(r.status).toBe(404);
    expect(warnings('EXCH51')).toEqual([
      [true, 'snapshot'],
      [false, 'waiver-expired'],
    ]);
    expect(r.audit).toEqual(['waiver-created', 'waiver-expired']);
  });

  it('names who granted an ended waiver as that, never as the one who ended it', async () => {
    const events = (await get(stack, 'events?kind=waiver')).body.items as Json[];
    const ended = events.filter((e) => e.cause === 'waiver-expired');
    expect(ended.length).toBeGreaterThan(0);
    for (const e of ended) expect(e.message).toMatch(/^Waiver \S+ expired for \S+ \(granted by ciso@contoso\.com\): /);
    const created = events.find((e) => e.cause === 'waiver-created');
    expect(created.message).toMatch(/^Waiver \S+ created for \S+ by ciso@contoso\.com: /);
  });
});
