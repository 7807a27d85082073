// The fleet the dashboard tests look at: every port-25 fixture as its own server (npm run demo),
// one server whose evidence carries HTML and script, one that changed status, and one that went
// silent two days ago and is marked stale by the stale-hosts job.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runDemo } from '../../src/local/demo';
import { get, post } from '../support/http';
import { TEST_KEYS, type TestStack } from '../support/stack';

export const HOSTILE_FIXTURE = path.join(__dirname, 'fixtures', 'hostile-evidence.json');
const BLOCK_OBSERVED = path.join(__dirname, '..', 'fixtures', 'port25', 'vse85-block-observed-in-log-jst.json');
const PASSING = path.join(__dirname, '..', 'fixtures', 'port25', 'vse88-x64-exchange2013-wildcard-and-full-path-exclusions.json');

export const SILENT_SERVER = 'silent01.corp.contoso.com';
export const CHANGED_SERVER = 'changed01.corp.contoso.com';

const DAY = 86_400_000;

type Doc = Record<string, any>;

const readDoc = (file: string): Doc => JSON.parse(readFileSync(file, 'utf8')) as Doc;

/** A fixture as a new snapshot of another host, collected at `at`. */
function asHost(doc: Doc, name: string, fqdn: string, at: number): Doc {
  return { ...doc, snapshotId: randomUUID(), collectedAt: new Date(at).toISOString(), host: { ...doc.host, name, fqdn } };
}

async function mustPost(stack: TestStack, doc: Doc): Promise<Doc> {
  const r = await post(stack, doc);
  if (r.status !== 201) throw new Error(`Seeding ${doc.host?.name} failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export interface SeededFleet {
  readonly hostileServer: string;
  /** A server whose Warning is under an active waiver. */
  readonly waivedServer: string;
}

/**
 * `shift` moves the stack's clock (the stack was started with `clock: () => Date.now() + shift.ms`),
 * so the silent server's last post is two days old when the stale-hosts job runs.
 */
export async function seedFleet(stack: TestStack, shift: { ms: number }): Promise<SeededFleet> {
  const now = Date.now();
  shift.ms = -2 * DAY;
  await mustPost(stack, asHost(readDoc(PASSING), 'SILENT01', SILENT_SERVER, now - 2 * DAY));
  shift.ms = 0;

  const lines: string[] = [];
  const failures = await runDemo(stack.baseUrl, TEST_KEYS.enrolment, TEST_KEYS.reader, (l) => lines.push(l));
  if (failures > 0) throw new Error(`npm run demo failed for ${failures} fixtures:\n${lines.join('\n')}`);

  // A server that passed an hour ago and shows a block now: a Pass → Error change.
  await mustPost(stack, asHost(readDoc(PASSING), 'CHANGED01', CHANGED_SERVER, now - 3_600_000));
  await mustPost(stack, asHost(readDoc(BLOCK_OBSERVED), 'CHANGED01', CHANGED_SERVER, now - 60_000));

  const hostile = await mustPost(stack, { ...readDoc(HOSTILE_FIXTURE), snapshotId: randomUUID(), collectedAt: new Date(now - 30_000).toISOString() });

  // An accepted risk: the first Warning of the rule, waived for a week.
  const warning = (await get(stack, 'results?rule=mcafee-port25-blocked&status=Warning&top=1')).body.items[0];
  const waiver = await stack.request('waivers/demo-waiver', {
    method: 'PUT',
    key: 'admin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      rule: 'mcafee-port25-blocked',
      server: warning.server,
      justification: 'The SMTP relay moves to another host next week.',
      grantedBy: 'messaging-lead@contoso.com',
      expiresAt: new Date(now + 7 * DAY).toISOString(),
    }),
  });
  if (waiver.status !== 201) throw new Error(`The waiver was refused: ${waiver.status} ${await waiver.text()}`);

  const job = await stack.request('jobs/stale-hosts/run', { method: 'POST', key: 'admin' });
  if (job.status !== 200) throw new Error(`The stale-hosts job failed: ${job.status} ${await job.text()}`);
  const stale = await get(stack, 'servers?stale=true');
  if (!stale.body.items.some((s: { server: string }) => s.server === SILENT_SERVER)) throw new Error(`${SILENT_SERVER} was not marked stale: ${JSON.stringify(stale.body)}`);
  // The demo's posts are projected on the host's own schedule; done here, the fleet is settled
  // before the first test, instead of the projector's catching up competing with it for the CPU.
  await stack.projected();
  return { hostileServer: hostile.server as string, waivedServer: warning.server as string };
}
