// Gives a loaded fleet its server keys, as enrolment leaves them (a key row and a head per server,
// written by the key store itself), marked as having posted, as the stale-hosts run marks a server
// once it finds a snapshot; and `awaiting` servers more, beyond the fleet, that enrolled and never
// posted. The keys were issued `ageMs` ago:
// within 30 days every head is also read by the never-posted check's query for heads written
// before heads said whether their server posted, the most that check ever reads.
import { randomBytes } from 'node:crypto';
import type { ServerKeyStore } from '../../src/store';
import { serverId } from './fleet';
import { runConcurrent } from './measure';

export async function enrolFleet(keyStore: ServerKeyStore, servers: number, o: { awaiting: number; ageMs: number }): Promise<{ loadMs: number }> {
  const t0 = performance.now();
  const issuedAt = Date.now() - o.ageMs;
  const must = (what: string, s: { errors: number; errorSamples: readonly string[] }) => {
    if (s.errors > 0) throw new Error(`${what}: ${s.errors} failed (${s.errorSamples[0]})`);
  };
  // The secrets are never used: no collector posts with these keys.
  const key = () => randomBytes(16).toString('base64');
  must(
    'issuing keys',
    await runConcurrent(servers + o.awaiting, 16, async (i) => {
      await keyStore.issue({ server: serverId(i), keyId: randomBytes(12).toString('base64url'), salt: key(), hash: key(), status: 'active', issuedAt, issuedBy: 'enrolment' });
    }),
  );
  must('marking servers posted', await runConcurrent(servers, 16, (i) => keyStore.markPosted(serverId(i))));
  return { loadMs: performance.now() - t0 };
}
