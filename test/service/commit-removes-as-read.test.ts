// A commit removes a server's row (its rule left the rule set) only as it read it, on Azurite:
// the SDK sends a delete inside a transaction without its ETag, so a row another writer rewrote after
// the read (a release that still has the rule, say) would go with that writer's post.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrencyConflictError, tableNames, type StoragePolicy, type StoredResult } from '../../src/store';
import { transactionGate } from '../support/faults';
import { post } from '../support/http';
import { alphaRule, snapshot } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
/** Holds the next transaction on Results while another writer has its turn. */
const gate = transactionGate('before-results-transaction', 'Results');
/** Runs once right after the next transaction on Results has been answered. */
let afterWrite: (() => Promise<void>) | undefined;
const afterGate: StoragePolicy = {
  name: 'after-results-transaction',
  async sendRequest(request, next) {
    const response = await next(request);
    const hook = afterWrite;
    if (hook && request.url.endsWith('$batch') && String(request.body).includes(`/${tableNames(stack.settings.tablePrefix).results}`)) {
      afterWrite = undefined;
      await hook();
    }
    return response;
  },
};

beforeAll(async () => {
  stack = await startTestStack({ rules: [alphaRule], storagePolicies: [gate.policy, afterGate] });
  expect(tableNames(stack.settings.tablePrefix).results).toBe('Results');
});
afterAll(async () => stack?.stop());

const id = (host: string) => `${host.toLowerCase()}.corp.contoso.com`;

/** A server with one row of the alpha rule, and that row as read. */
async function serverWithRow(host: string): Promise<{ read: StoredResult[]; row: StoredResult }> {
  expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: Date.now() - 60 * 60_000 }))).status).toBe(201);
  const read = await stack.app.store.readPartition(id(host));
  return { read, row: read[0]! };
}

/** Another writer's commit that rewrites the row under the ETag it reads now. */
async function rewrite(host: string, snapshotId: string): Promise<void> {
  const now = await stack.app.store.readPartition(id(host));
  await stack.app.store.commitServer(id(host), { put: now.map((r) => ({ record: { ...r, snapshotId }, etag: r.etag })), remove: [], basedOn: now });
}

/** The commit of a rule set that dropped the row's rule for another one. */
const dropRule = (host: string, read: StoredResult[], row: StoredResult) =>
  stack.app.store.commitServer(id(host), { put: [{ record: { ...row, ruleId: 'test-successor', snapshotId: 'mine' } }], remove: [row.ruleId], basedOn: read });

const rowsOf = async (host: string) => (await stack.app.store.readPartition(id(host))).map((r) => `${r.ruleId}:${r.snapshotId}`).sort();

describe('a commit that removes a row', () => {
  it('removes it when it is still as read', async () => {
    const { read, row } = await serverWithRow('ASREAD1');
    await dropRule('ASREAD1', read, row);
    expect(await rowsOf('ASREAD1')).toEqual(['test-successor:mine']);
  });

  it('is refused, and writes nothing, when another writer rewrote the row after the read', async () => {
    const { read, row } = await serverWithRow('ASREAD2');
    gate.beforeWrite = () => rewrite('ASREAD2', 'newer');
    await expect(dropRule('ASREAD2', read, row)).rejects.toBeInstanceOf(ConcurrencyConflictError);
    expect(await rowsOf('ASREAD2')).toEqual([`${row.ruleId}:newer`]);
  });

  it('leaves the newer row when another writer rewrites it between the commit and the delete', async () => {
    const { read, row } = await serverWithRow('ASREAD3');
    afterWrite = () => rewrite('ASREAD3', 'newer');
    await dropRule('ASREAD3', read, row);
    // The other writer read (and so rewrote) the successor's row as well.
    expect(await rowsOf('ASREAD3')).toEqual([`${row.ruleId}:newer`, 'test-successor:newer']);
  });
});
