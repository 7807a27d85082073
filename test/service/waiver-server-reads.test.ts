// A waiver PUT that names its server by id finds out whether that server counts, was removed, or is
// unknown with one read of the server's own Results partition, over real HTTP on Azurite: the
// lookup of the name and the coverage it answers share that read instead of each making their own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeKey, tableNames, type StoragePolicy } from '../../src/store';
import { oncePerRequest } from '../support/faults';
import { adminCall, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

const DAY = 24 * 60 * 60_000;
const LIVE = 'wread01.corp.contoso.com';
const UNKNOWN = 'wread09.corp.contoso.com';

let stack: TestStack;
/** The $filter of each Results query sent while `recording`. */
const filters: string[] = [];
let recording = false;
const firstAttempt = oncePerRequest();
const recorder: StoragePolicy = {
  name: 'waiver-results-reads',
  async sendRequest(request, next) {
    const url = new URL(request.url);
    if (recording && firstAttempt(request) && decodeURIComponent(url.pathname).endsWith(`/${tableNames(stack.settings.tablePrefix).results}()`)) filters.push(url.searchParams.get('$filter') ?? '');
    return next(request);
  },
};

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [recorder] });
  expect((await post(stack, snapshot({ host: 'WREAD01', testState: 'Pass' }))).status).toBe(201);
});
afterAll(async () => stack?.stop());

/** PUTs a waiver for `server` and answers it with the Results queries of that server's partition it sent. */
async function putFor(id: string, server: string): Promise<{ body: Json; partitionReads: string[] }> {
  filters.length = 0;
  recording = true;
  const reply = await adminCall(stack, 'PUT', `waivers/${id}`, {
    rule: 'test-alpha',
    server,
    justification: 'The relay servers keep port 25 open until the migration.',
    grantedBy: 'ciso@contoso.com',
    expiresAt: new Date(Date.now() + 7 * DAY).toISOString(),
  });
  recording = false;
  expect(reply.status).toBe(201);
  const own = `PartitionKey eq '${encodeKey(server)}'`;
  return { body: reply.body, partitionReads: filters.filter((f) => f.includes(own)) };
}

describe('a waiver PUT naming a server by its id', () => {
  it('reads a server that counts once, and covers it', async () => {
    const { body, partitionReads } = await putFor('wread-live', LIVE);
    expect(body).toMatchObject({ server: LIVE, coveredServers: 1, warnings: [] });
    expect(partitionReads).toHaveLength(1);
  });

  it('reads an id no server has once, and says it covers none yet', async () => {
    const { body, partitionReads } = await putFor('wread-unknown', UNKNOWN);
    expect(body).toMatchObject({ server: UNKNOWN, coveredServers: 0, warnings: [{ code: 'covers_no_server' }] });
    expect(partitionReads).toHaveLength(1);
  });
});
