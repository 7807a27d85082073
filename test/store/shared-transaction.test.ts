// The outbox's group commit, without storage: a lone row is written at once and alone; rows that
// arrive while a write is in flight wait and then go as one transaction, within storage's bounds
// (100 rows, the request size; one row larger than the rest still goes); a refused transaction is
// tried again row by row so each caller learns its own answer. The service tests write the
// entries of concurrent posts this way against Azurite.
import type { TableTransaction } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import type { Entity } from '../../src/store/entities';
import { SharedTransaction } from '../../src/store/shared-transaction';
import { MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ROWS, requestBytes } from '../../src/store/transactions';

type Call = { kind: 'one'; rowKeys: string[] } | { kind: 'many'; rowKeys: string[]; actions: TableTransaction['actions'] };

/** A writer whose calls wait until released, and that refuses the rows named in `refused`. */
function fakeWriter(refused: ReadonlySet<string> = new Set(), refuseEveryTransaction = false) {
  const calls: Call[] = [];
  const pending: (() => void)[] = [];
  const held = () => new Promise<void>((resolve) => pending.push(resolve));
  const writer = {
    one: async (entity: Entity) => {
      calls.push({ kind: 'one', rowKeys: [entity.rowKey] });
      await held();
      if (refused.has(entity.rowKey)) throw new Error(`refused ${entity.rowKey}`);
    },
    many: async (actions: TableTransaction['actions']) => {
      const rowKeys = actions.map((a) => (a[1] as Entity).rowKey);
      calls.push({ kind: 'many', rowKeys, actions });
      await held();
      if (refuseEveryTransaction || rowKeys.some((k) => refused.has(k))) throw new Error('transaction refused');
    },
  };
  /** Lets every call made so far finish, and waits until the writes they unblock have started. */
  const release = async () => {
    for (const r of pending.splice(0)) r();
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  return { writer, calls, release, pendingCount: () => pending.length };
}

const entry = (rowKey: string, size = 0): Entity => ({ partitionKey: 'outbox', rowKey, Body: 'x'.repeat(size) });

/** Settles `promises` into their outcomes, tagged by row key. */
async function outcomes(promises: Record<string, Promise<void>>) {
  const out: Record<string, string> = {};
  await Promise.all(
    Object.entries(promises).map(([key, p]) =>
      p.then(
        () => (out[key] = 'stored'),
        (e: Error) => (out[key] = e.message),
      ),
    ),
  );
  return out;
}

describe('SharedTransaction', () => {
  it('writes a lone row at once, as a plain upsert', async () => {
    const { writer, calls, release } = fakeWriter();
    const shared = new SharedTransaction(writer);
    const done = shared.upsert(entry('a'));
    expect(calls).toStrictEqual([{ kind: 'one', rowKeys: ['a'] }]);
    await release();
    await expect(done).resolves.toBeUndefined();
  });

  it('holds the rows that arrive during a write and sends them together once it ends, as upserts that replace', async () => {
    const { writer, calls, release } = fakeWriter();
    const shared = new SharedTransaction(writer);
    const rows = ['a', 'b', 'c', 'd'].map((k) => entry(k));
    const done = rows.map((r) => shared.upsert(r));
    expect(calls.map((c) => c.kind)).toStrictEqual(['one']);
    await release();
    expect(calls.slice(1)).toStrictEqual([{ kind: 'many', rowKeys: ['b', 'c', 'd'], actions: rows.slice(1).map((r) => ['upsert', r, 'Replace']) }]);
    // Nothing is settled for the rows still in flight.
    const settled: string[] = [];
    done.forEach((p, i) => void p.then(() => settled.push(rows[i]!.rowKey)));
    await Promise.resolve();
    expect(settled).toStrictEqual(['a']);
    await release();
    await Promise.all(done);
    expect(settled).toStrictEqual(['a', 'b', 'c', 'd']);
  });

  it('sends one row that waited alone, as a plain upsert', async () => {
    const { writer, calls, release } = fakeWriter();
    const shared = new SharedTransaction(writer);
    const done = [shared.upsert(entry('a')), shared.upsert(entry('b'))];
    await release();
    await release();
    await Promise.all(done);
    expect(calls).toStrictEqual([
      { kind: 'one', rowKeys: ['a'] },
      { kind: 'one', rowKeys: ['b'] },
    ]);
  });

  it('starts the next write only when the one in flight ends, and idles once nothing waits', async () => {
    const { writer, calls, release, pendingCount } = fakeWriter();
    const shared = new SharedTransaction(writer);
    const first = shared.upsert(entry('a'));
    await release();
    await first;
    expect(pendingCount()).toBe(0);
    const second = shared.upsert(entry('b'));
    const third = shared.upsert(entry('c'));
    expect(calls.map((c) => c.rowKeys)).toStrictEqual([['a'], ['b']]);
    await release();
    expect(calls.map((c) => c.rowKeys)).toStrictEqual([['a'], ['b'], ['c']]);
    await release();
    await Promise.all([second, third]);
    expect(pendingCount()).toBe(0);
  });

  it('puts at most 100 rows in a transaction', async () => {
    const { writer, calls, release } = fakeWriter();
    const shared = new SharedTransaction(writer);
    const keys = Array.from({ length: 1 + MAX_TRANSACTION_ROWS + 1 }, (_, i) => `r${String(i).padStart(3, '0')}`);
    const done = keys.map((k) => shared.upsert(entry(k)));
    await release();
    await release();
    await release();
    await Promise.all(done);
    expect(calls.map((c) => [c.kind, c.rowKeys.length])).toStrictEqual([
      ['one', 1],
      ['many', 100],
      ['one', 1],
    ]);
    expect(calls.flatMap((c) => c.rowKeys)).toStrictEqual(keys);
  });

  it('puts no more bytes in a transaction than storage accepts, up to the bound itself', async () => {
    const { writer, calls, release } = fakeWriter();
    const shared = new SharedTransaction(writer);
    const overhead = requestBytes(entry('b'));
    const third = Math.floor(MAX_TRANSACTION_BYTES / 3);
    // b, c and d fill the bound exactly; e would pass it.
    const sizes = { b: third - overhead, c: third - overhead, d: MAX_TRANSACTION_BYTES - 2 * third - overhead, e: 1 };
    const done = [shared.upsert(entry('a')), ...Object.entries(sizes).map(([k, size]) => shared.upsert(entry(k, size)))];
    expect(requestBytes(entry('b', sizes.b)) + requestBytes(entry('c', sizes.c)) + requestBytes(entry('d', sizes.d))).toBe(MAX_TRANSACTION_BYTES);
    for (let i = 0; i < 3; i++) await release();
    await Promise.all(done);
    expect(calls.map((c) => c.rowKeys)).toStrictEqual([['a'], ['b', 'c', 'd'], ['e']]);
  });

  it('sends a waiting row larger than the bound on its own', async () => {
    const { writer, calls, release } = fakeWriter();
    const shared = new SharedTransaction(writer);
    const done = [shared.upsert(entry('a')), shared.upsert(entry('huge', MAX_TRANSACTION_BYTES)), shared.upsert(entry('c'))];
    for (let i = 0; i < 3; i++) await release();
    await Promise.all(done);
    expect(calls.map((c) => c.rowKeys)).toStrictEqual([['a'], ['huge'], ['c']]);
  });

  it('tries a refused transaction again row by row, so only the refused row fails, and goes on after it', async () => {
    const { writer, calls, release } = fakeWriter(new Set(['c']));
    const shared = new SharedTransaction(writer);
    const done = { a: shared.upsert(entry('a')), b: shared.upsert(entry('b')), c: shared.upsert(entry('c')), d: shared.upsert(entry('d')) };
    const settled = outcomes(done);
    await release();
    await release();
    expect(calls.map((c) => [c.kind, c.rowKeys])).toStrictEqual([
      ['one', ['a']],
      ['many', ['b', 'c', 'd']],
      ['one', ['b']],
      ['one', ['c']],
      ['one', ['d']],
    ]);
    await release();
    expect(await settled).toStrictEqual({ a: 'stored', b: 'stored', c: 'refused c', d: 'stored' });
    const later = shared.upsert(entry('e'));
    expect(calls.at(-1)).toStrictEqual({ kind: 'one', rowKeys: ['e'] });
    await release();
    await expect(later).resolves.toBeUndefined();
  });

  it('stores every row of a transaction refused as a whole that each row alone passes', async () => {
    const { writer, calls, release } = fakeWriter(new Set(), true);
    const shared = new SharedTransaction(writer);
    const done = { a: shared.upsert(entry('a')), b: shared.upsert(entry('b')), c: shared.upsert(entry('c')) };
    const settled = outcomes(done);
    for (let i = 0; i < 3; i++) await release();
    expect(await settled).toStrictEqual({ a: 'stored', b: 'stored', c: 'stored' });
    expect(calls.map((c) => c.kind)).toStrictEqual(['one', 'many', 'one', 'one']);
  });

  it('answers a lone refused row with its own error', async () => {
    const { writer, release } = fakeWriter(new Set(['a']));
    const shared = new SharedTransaction(writer);
    const done = shared.upsert(entry('a'));
    await release();
    await expect(done).rejects.toThrow('refused a');
  });
});
