// The largest rows the real rule writes, through the real HTTP API, under Azure's limits (the test
// stacks refuse what Azure refuses): a port-blocking rule whose name is as long as a registry
// string may be, in kanji (three bytes a character on the wire, and not much less gzipped), and an exclusion list holding a
// process name almost as long, so every message and the configuration's facts are about as long as
// their columns take. Fifty servers of one rule-index and drift shard post it, and one projector batch carries
// them all: their events, index rows and drift members each fit in storage's 1 MiB entity, but
// not, fifty at once, in one 4 MiB transaction. Azure refused such a batch (Azurite did not), and
// the projector fell back to projecting the entries one at a time.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketOf, COUNT_SHARDS } from '../../src/store';
import { get, getAll, post, type Json } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';

const FIXTURE = path.resolve(__dirname, '../fixtures/port25/vse80i-custom-rule-japanese-name.json');
const SERVERS = 50;
const RULE = 'mcafee-port25-blocked';
/** A registry string's most: 32,767 UTF-16 units. */
const LONG = 32_767;
/**
 * Kanji drawn at random (a fixed seed), so gzip cannot shrink what carries them (an outbox entry)
 * much below their three UTF-8 bytes each.
 */
function japanese(length: number, suffix = ''): string {
  let seed = 20_261_204;
  let out = '';
  while (out.length < length - suffix.length) {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    out += String.fromCharCode(0x4e00 + (seed % 20_000));
  }
  return out + suffix;
}
/** An excluded process whose name takes most of what the facts column holds (32,000 characters), so the facts stay whole. */
const LONG_PROCESS = japanese(31_000, '.exe');

/** Host names whose servers fall in one counts shard of the rule index (and so one drift shard). */
function hostsOfOneShard(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const name = `BIGJ${i}`;
    if (bucketOf(`${name.toLowerCase()}.corp.contoso.co.jp`, COUNT_SHARDS) === 'b00') out.push(name);
  }
  return out;
}

function worstSnapshot(host: string): Json {
  const doc: Json = JSON.parse(readFileSync(FIXTURE, 'utf8'));
  doc.snapshotId = randomUUID();
  doc.collectedAt = new Date(Date.now() - 60_000).toISOString();
  doc.host = { ...doc.host, name: host, fqdn: `${host.toLowerCase()}.corp.contoso.co.jp` };
  const values: Json[] = doc.registry[1].values;
  values.find((v) => v.name === 'PortBlockRuleName_3').data = japanese(LONG);
  values.find((v) => v.name === 'PortBlockExcludedProcesses_3').data.push(LONG_PROCESS);
  return doc;
}

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ projectorIntervalMs: 0 });
}, 60_000);
afterAll(async () => stack?.stop());

describe('the largest rows the rule writes, fifty servers in one projector batch', () => {
  it('are projected in transactions Azure takes: no batch refused, every event, index row and drift member there', async () => {
    const hosts = hostsOfOneShard(SERVERS);
    for (const host of hosts) {
      const res = await post(stack, worstSnapshot(host), { drain: false });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }

    const run = await stack.projected();

    expect(run.projected).toBe(SERVERS);
    expect(stack.logs.filter((l) => /failed|refused|held/i.test(l.message)).map((l) => l.message)).toEqual([]);
    const events = (await getAll(stack, 'events')).items.filter((e: Json) => e.server.startsWith('bigj'));
    expect(events).toHaveLength(SERVERS);
    // The messages name the rule: as long as a message column takes.
    expect(Math.max(...events.map((e: Json) => JSON.stringify(e.message).length))).toBeGreaterThan(10_000);
    const summary = (await get(stack, 'summary')).body;
    expect(summary.rules.find((r: Json) => r.ruleId === RULE).counts).toMatchObject({ Warning: SERVERS });
    const drift = (await get(stack, `drift?rule=${RULE}`)).body;
    expect(drift).toMatchObject({ servers: SERVERS, configurations: 1 });
    // The configuration's facts name the long process, whole.
    expect(Object.values(drift.clusters[0].facts).some((v) => Array.isArray(v) && v.includes(LONG_PROCESS))).toBe(true);
  }, 240_000);
});

/** The longest server id the contract takes: an fqdn of 253 characters, labels of 63. */
const LONG_HOST = 'L'.repeat(63);
const LONG_FQDN = [LONG_HOST.toLowerCase(), 'm'.repeat(63), 'n'.repeat(63), 'o'.repeat(61)].join('.');

/**
 * Hex digits at random: gzip keeps about half. (Printable ASCII at random keeps about 80%: a
 * body of that is kept whole by Azure, 14 binary columns well under 1 MiB by its formula, but
 * Azurite refuses the row, as it measures a replaced entity by its JSON, base64 and all.)
 */
function hexNoise(chars: number): string {
  let out = '';
  for (let i = 0; i < chars; i++) out += Math.floor(Math.random() * 16).toString(16);
  return out;
}

describe('the longest names and texts every other write takes', () => {
  it('a server of the longest id: the largest snapshot the contract takes, waivers, a baseline, key rotations and revocation, removal', async () => {
    expect(LONG_FQDN).toHaveLength(253);
    const logsBefore = stack.logs.length;
    const admin = (method: string, path: string, body?: unknown) =>
      stack.request(path, { method, key: 'admin', headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const expectOk = async (what: string, res: Promise<Response>) => {
      const r = await res;
      const text = await r.text();
      expect(r.status, `${what}: ${text.slice(0, 300)}`).toBeLessThan(300);
    };

    // The largest body the service takes (POSTURE_MAX_SNAPSHOT_BYTES, 1 MiB), most of it a file
    // tail gzip shrinks little, with the worst rule texts and facts besides.
    const doc = worstSnapshot(LONG_HOST);
    doc.host.fqdn = LONG_FQDN;
    doc.files = [{ path: 'C:\\logs\\' + 'p'.repeat(2000), exists: true, tail: '' }];
    const room = stack.settings.maxSnapshotBytes - Buffer.byteLength(JSON.stringify(doc), 'utf8');
    doc.files[0].tail = hexNoise(room);
    expect(Buffer.byteLength(JSON.stringify(doc), 'utf8')).toBe(stack.settings.maxSnapshotBytes);
    const posted = await post(stack, doc, { drain: false });
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    await stack.projected();

    // Waivers: the longest id, pattern, justification and grantor, changed until their lists of
    // writers are full, then ended.
    const waiver = (n: number) => ({
      rule: RULE,
      serverPattern: LONG_FQDN.slice(0, -1) + '?',
      justification: `${n} ` + japanese(1_990),
      grantedBy: 'g'.repeat(200),
      expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    });
    const id = 'w'.repeat(64);
    for (let n = 0; n < 10; n++) await expectOk(`waiver change ${n}`, admin('PUT', `waivers/${id}`, waiver(n)));
    await expectOk('waiver of the server by id', admin('PUT', `waivers/${'x'.repeat(64)}`, { ...waiver(0), serverPattern: undefined, server: LONG_FQDN }));
    await expectOk('waiver delete', admin('DELETE', `waivers/${id}`));
    // A baseline naming the server, by the longest setter, changed a few times.
    for (let n = 0; n < 10; n++) await expectOk(`baseline ${n}`, admin('PUT', `baselines/${RULE}`, { server: LONG_FQDN, setBy: `${n}`.padEnd(200, 'b') }));
    // Its key rotated past the revoked keys kept, then revoked.
    for (let n = 0; n < 8; n++) await expectOk(`rotation ${n}`, admin('POST', `servers/${LONG_FQDN}/key/rotate`));
    await expectOk('revocation', admin('DELETE', `servers/${LONG_FQDN}/key`));
    await stack.projected();
    // Removed, by the longest name.
    await expectOk('removal', admin('DELETE', `servers/${LONG_FQDN}?removedBy=${'r'.repeat(200)}`));
    await stack.projected();

    expect(stack.logs.slice(logsBefore).filter((l) => /failed|refused|held/i.test(l.message)).map((l) => l.message)).toEqual([]);
    const history = await get(stack, `servers/${LONG_FQDN}/history`);
    expect(history.status).toBe(200);
    expect(history.body.items.map((e: Json) => e.cause)).toContain('removed');
  }, 240_000);
});
