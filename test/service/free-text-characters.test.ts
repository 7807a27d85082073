// The text people write into records others read back (a waiver's justification and grantedBy, a
// baseline's setBy, a removal's removedBy, the collector an enrolment names), with characters a
// client may send, over real HTTP on Azurite. Control characters are kept: they come back as sent,
// escaped in JSON. Half of a UTF-16 surrogate pair is refused with one sentence naming the field:
// stored, it reached the events list as a bare \ud800 escape, which strict JSON readers refuse.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { halfCharacterMessage } from '../../src/app/free-text';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, serverIdOf } from '../support/drift';
import { adminCall, alertRecords, get, getAll, post, type Json } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const DAY = 24 * 60 * 60_000;
let stack: TestStack;

const postAs = async (host: string) =>
  expect((await post(stack, fixtureAs(readFixture(DEFAULT_LIST) as Record<string, unknown>, host, Date.now() - 60_000))).status).toBe(201);

const waiver = (o: Record<string, unknown>) => ({
  rule: DRIFT_RULE,
  server: serverIdOf('TEXT1'),
  justification: 'The relay servers keep port 25 open until the migration.',
  grantedBy: 'ciso@contoso.com',
  expiresAt: new Date(Date.now() + 7 * DAY).toISOString(),
  ...o,
});

/** Every C0 control, DEL, and a whole surrogate pair (an emoji), inside the text (the ends are trimmed). */
const CONTROLS = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('') + '\u007f';
const KEPT = `kept ${CONTROLS} and \u{1F600} too`;
/** Halves of a pair: high alone, low alone, and the two in the wrong order. */
const HALVES = { high: 'a\ud800b', low: 'a\udc00b', reversed: 'a\udc00\ud800b' };

beforeAll(async () => {
  stack = await startTestStack();
  for (const host of ['TEXT1', 'TEXT2', 'TEXT3']) await postAs(host);
}, 60_000);
afterAll(async () => stack?.stop());

describe('half of a surrogate pair', () => {
  it.each(Object.entries(HALVES))('(%s) in a waiver is a 400 naming the field, and nothing is stored', async (name, text) => {
    for (const field of ['justification', 'grantedBy']) {
      const id = `half-${name}-${field.toLowerCase()}`;
      const put = await adminCall(stack, 'PUT', `waivers/${id}`, waiver({ [field]: text }));
      expect(put.status, JSON.stringify(put.body)).toBe(400);
      expect(put.body).toEqual({ error: 'invalid_waiver', message: halfCharacterMessage(field) });
      expect((await adminCall(stack, 'GET', `waivers/${id}`)).status).toBe(404);
    }
    const events = await getAll(stack, 'events?kind=waiver');
    expect(events.items.filter((e: Json) => String(e.message).includes(`half-${name}-`))).toEqual([]);
  });

  it('in a baseline setBy is a 400 naming the field, and the baseline stays as it was', async () => {
    const before = await adminCall(stack, 'GET', `baselines/${DRIFT_RULE}`);
    const put = await adminCall(stack, 'PUT', `baselines/${DRIFT_RULE}`, { server: serverIdOf('TEXT1'), setBy: HALVES.high });
    expect(put.status, JSON.stringify(put.body)).toBe(400);
    expect(put.body).toEqual({ error: 'invalid_baseline', message: halfCharacterMessage('setBy') });
    expect(await adminCall(stack, 'GET', `baselines/${DRIFT_RULE}`)).toMatchObject({ status: before.status, body: before.body });
  });

  it('in removedBy, the query string, arrives as U+FFFD: URL decoding takes no half character', async () => {
    // The UTF-8 form of U+D800, which no valid UTF-8 holds.
    const removed = await stack.request(`servers/${serverIdOf('TEXT3')}?removedBy=a%ED%A0%80b`, { method: 'DELETE', key: 'admin' });
    expect(removed.status).toBe(200);
    const removedBy = String(((await removed.json()) as Json).removedBy);
    expect(removedBy).toMatch(/^a\uFFFD+b$/);
    expect(removedBy.isWellFormed()).toBe(true);
  });

  it('in the collector an enrolment names is a 400 naming the field', async () => {
    const res = await stack.request('enroll', {
      method: 'POST',
      key: 'enrolment',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ host: { name: 'TEXT9' }, collector: { name: HALVES.low, version: '1.2.0' } }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Json;
    expect(body.error).toBe('invalid_enrolment');
    expect(body.issues).toEqual([expect.objectContaining({ path: 'collector.name', message: expect.stringContaining('surrogate') })]);
  });
});

describe('control characters and whole surrogate pairs', () => {
  it('come back as sent from the waiver, the baseline, the removal, their events and audit records', async () => {
    const put = await adminCall(stack, 'PUT', 'waivers/kept-text', waiver({ justification: KEPT, grantedBy: `ops ${CONTROLS}` }));
    expect(put.status, JSON.stringify(put.body)).toBe(201);
    expect((await adminCall(stack, 'GET', 'waivers/kept-text')).body).toMatchObject({ justification: KEPT, grantedBy: `ops ${CONTROLS}` });

    const baseline = await adminCall(stack, 'PUT', `baselines/${DRIFT_RULE}`, { server: serverIdOf('TEXT1'), setBy: KEPT });
    expect([200, 201], JSON.stringify(baseline.body)).toContain(baseline.status);
    expect((await adminCall(stack, 'GET', `baselines/${DRIFT_RULE}`)).body).toMatchObject({ setBy: KEPT });

    const removed = await stack.request(`servers/${serverIdOf('TEXT2')}?removedBy=${encodeURIComponent(KEPT)}`, { method: 'DELETE', key: 'admin' });
    expect(removed.status).toBe(200);
    await stack.projected();
    expect((await get(stack, `servers/${serverIdOf('TEXT2')}/history`)).body.removed).toMatchObject({ removedBy: KEPT });

    // The events list is well-formed UTF-8 JSON that holds each text whole, escaped, never a half pair.
    const res = await stack.request('events?top=200', { key: 'reader' });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    expect(text).not.toMatch(/\\ud[89ab][0-9a-f]{2}(?!\\udc)|\\udc/i);
    const messages = (JSON.parse(text) as Json).items.map((e: Json) => String(e.message));
    expect(messages.some((m: string) => m.startsWith('Waiver kept-text created') && m.includes(KEPT) && m.includes(`ops ${CONTROLS}`))).toBe(true);
    expect(messages.some((m: string) => m.includes(`set to ${serverIdOf('TEXT1')} by ${KEPT}`))).toBe(true);
    expect(messages.some((m: string) => m.includes(`removed from the fleet by ${KEPT}`))).toBe(true);

    // An audit record is one log line whatever the text holds: its JSON escapes CR and LF.
    const audit = alertRecords(stack).find((r) => r.name === 'FleetPosture.ServerRemoved' && r.fields.server === serverIdOf('TEXT2'));
    expect(audit?.fields.removedBy).toBe(KEPT);
    expect(stack.logs.filter((l) => l.message.startsWith('FleetPosture.')).every((l) => !/[\r\n]/.test(l.message))).toBe(true);
  });
});
