// The projector's lease while a batch runs, without storage: taken under a generation, renewed on a
// heartbeat and before a step that writes once half of it is spent, one renewal at a time, and
// lost for good once another instance took it. The Outbox table is the shared in-memory one
// (test/support/memory-outbox.ts), which records every call; test/service/projector-lease.test.ts
// runs the same over Azurite.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProjectorLease } from '../../src/app/projector-lease';
import { LeaseLostError, type OutboxStore } from '../../src/store';
import { memoryOutbox } from '../support/memory-outbox';

const T = Date.parse('2026-12-06T12:00:00.000Z');
const OWNER = 'owner-a';
const LOST = 'Another projector took the lease while this one worked: this one stops, and that one projects what is left.';

/** The outbox, a clock the test moves (unless fake timers keep it), and the calls on the lease row. */
function world() {
  const calls: unknown[][] = [];
  const outbox = memoryOutbox(calls);
  const clock = { now: T };
  if (!vi.isFakeTimers()) vi.spyOn(Date, 'now').mockImplementation(() => clock.now);
  return { calls, outbox, clock, take: (ms: number, above?: number) => ProjectorLease.take(outbox.store as unknown as OutboxStore, OWNER, ms, above) };
}

/** A promise and the function that settles it. */
function gate() {
  let open = () => undefined as void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

// Spies first: one put on a fake timer function would otherwise restore that fake after the real
// timers came back, and the next files in this worker (isolate: false) would have no timers.
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('taking the lease', () => {
  it('holds it from now for its length above generation 0 unless told, and answers the generation the row got', async () => {
    const w = world();
    const lease = (await w.take(60_000))!;
    expect(w.calls).toStrictEqual([['holdLease', OWNER, T, T + 60_000, 0]]);
    expect(lease.generation).toBe(T);
    expect(w.outbox.state.lease).toStrictEqual({ owner: OWNER, until: T + 60_000, generation: T });
    await lease.stop();
  });

  it('asks for a generation above the one given', async () => {
    const w = world();
    const lease = (await w.take(60_000, T + 500))!;
    expect(w.calls).toStrictEqual([['holdLease', OWNER, T, T + 60_000, T + 500]]);
    expect(lease.generation).toBe(T + 501);
    await lease.stop();
  });

  it('is not taken while another instance holds it, and starts no heartbeat then', async () => {
    vi.useFakeTimers({ now: T });
    const w = world();
    w.outbox.takenBy('owner-b', T + 1);
    expect(await w.take(60_000)).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });
});

describe('keeping the lease before a step that writes', () => {
  it('renews it only once half of it is spent, from the time of the renewal, under its generation', async () => {
    const w = world();
    const lease = (await w.take(1000))!;
    w.clock.now = T + 499;
    await lease.keep();
    expect(w.calls).toHaveLength(1);
    w.clock.now = T + 500;
    await lease.keep();
    expect(w.calls.slice(1)).toStrictEqual([['renewLease', OWNER, T, T + 1500]]);
    // Held now until T + 1500: half of it is spent at T + 1000.
    w.clock.now = T + 999;
    await lease.keep();
    expect(w.calls).toHaveLength(2);
    w.clock.now = T + 1000;
    await lease.keep();
    expect(w.calls.slice(2)).toStrictEqual([['renewLease', OWNER, T, T + 2000]]);
    await lease.stop();
  });

  it('renews it however much is ahead when asked to confirm it', async () => {
    const w = world();
    const lease = (await w.take(60_000))!;
    await lease.keep(true);
    expect(w.calls.slice(1)).toStrictEqual([['renewLease', OWNER, T, T + 60_000]]);
    await lease.stop();
  });

  it('throws once another instance took it, and from then on without asking storage again', async () => {
    const w = world();
    const lease = (await w.take(60_000))!;
    w.outbox.takenBy('owner-b', T + 60_000);
    await expect(lease.keep(true)).rejects.toStrictEqual(new LeaseLostError(LOST));
    // Most of the lease is still ahead by this clock: lost is lost all the same.
    await expect(lease.keep()).rejects.toThrow(LOST);
    await expect(lease.keep(true)).rejects.toBeInstanceOf(LeaseLostError);
    expect(w.calls.filter((c) => c[0] === 'renewLease')).toHaveLength(1);
    await lease.stop();
  });

  it('counts a lease that lapsed and came back to this owner under another generation as lost', async () => {
    const w = world();
    const lease = (await w.take(60_000))!;
    w.outbox.state.lease = { owner: OWNER, until: T + 60_000, generation: lease.generation + 1 };
    await expect(lease.keep(true)).rejects.toThrow(LOST);
    await lease.stop();
  });

  it('passes on a storage failure of the renewal, keeps the time it held, and renews at the next step', async () => {
    const w = world();
    const lease = (await w.take(1000))!;
    const down = new Error('storage down');
    w.outbox.fault('renewLease', { fail: down });
    w.clock.now = T + 600;
    await expect(lease.keep()).rejects.toBe(down);
    // Not renewed: still half spent, so the next step renews.
    w.clock.now = T + 601;
    await lease.keep();
    expect(w.calls.filter((c) => c[0] === 'renewLease')).toStrictEqual([
      ['renewLease', OWNER, T, T + 1600],
      ['renewLease', OWNER, T, T + 1601],
    ]);
    await lease.stop();
  });

  it('runs one renewal at a time: a second waits for the first to answer, and runs after the first failed', async () => {
    const w = world();
    const lease = (await w.take(60_000))!;
    const first = gate();
    w.outbox.fault('renewLease', { before: () => first.opened }, { fail: new Error('storage down') });
    const a = lease.keep(true);
    const b = lease.keep(true);
    const c = lease.keep(true);
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(w.calls.filter((x) => x[0] === 'renewLease')).toHaveLength(1);
    first.open();
    await a;
    await expect(b).rejects.toThrow('storage down');
    await c;
    expect(w.calls.filter((x) => x[0] === 'renewLease')).toHaveLength(3);
    await lease.stop();
  });
});

describe('the heartbeat', () => {
  it('renews the lease every third of it while the batch runs, and not once stopped', async () => {
    vi.useFakeTimers({ now: T });
    const w = world();
    const lease = (await w.take(3000))!;
    await vi.advanceTimersByTimeAsync(999);
    expect(w.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(w.calls.slice(1)).toStrictEqual([['renewLease', OWNER, T, T + 4000]]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(w.calls.slice(2)).toStrictEqual([['renewLease', OWNER, T, T + 5000]]);
    await lease.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(w.calls).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });

  it('moves the time the lease is held until, so a step soon after does not renew it', async () => {
    vi.useFakeTimers({ now: T });
    const w = world();
    const lease = (await w.take(3000))!;
    await vi.advanceTimersByTimeAsync(2000);
    // Renewed at T + 2000 until T + 5000: at T + 2100 most of it is ahead.
    await vi.advanceTimersByTimeAsync(100);
    const before = w.calls.length;
    await lease.keep();
    expect(w.calls).toHaveLength(before);
    await lease.stop();
    vi.useRealTimers();
  });

  it('that found the lease taken makes the next step stop, without another renewal', async () => {
    vi.useFakeTimers({ now: T });
    const w = world();
    const lease = (await w.take(3000))!;
    w.outbox.takenBy('owner-b', T + 60_000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(w.calls.filter((c) => c[0] === 'renewLease')).toHaveLength(1);
    await expect(lease.keep()).rejects.toThrow(LOST);
    // A lost lease is not asked for again, on the heartbeat either.
    await vi.advanceTimersByTimeAsync(3000);
    expect(w.calls.filter((c) => c[0] === 'renewLease')).toHaveLength(1);
    await lease.stop();
    vi.useRealTimers();
  });

  it('that fails leaves nothing unhandled, and the lease is kept by the next renewal', async () => {
    vi.useFakeTimers({ now: T });
    const w = world();
    const lease = (await w.take(3000))!;
    w.outbox.fault('renewLease', { fail: new Error('storage down') });
    await vi.advanceTimersByTimeAsync(1000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(w.calls.filter((c) => c[0] === 'renewLease')).toStrictEqual([
      ['renewLease', OWNER, T, T + 4000],
      ['renewLease', OWNER, T, T + 5000],
    ]);
    await lease.keep();
    expect(w.calls).toHaveLength(3);
    await lease.stop();
    vi.useRealTimers();
  });

  // On the real timers: a spy put on a fake timer function leaves that fake behind once restored.
  it('does not keep the process alive', async () => {
    const started = vi.spyOn(globalThis, 'setInterval');
    const w = world();
    const lease = (await w.take(3000))!;
    expect(started).toHaveBeenCalledTimes(1);
    expect((started.mock.results[0]!.value as NodeJS.Timeout).hasRef()).toBe(false);
    await lease.stop();
  });

  it('is started where timers cannot be unreferenced too', async () => {
    const w = world();
    vi.spyOn(globalThis, 'setInterval').mockImplementation(() => ({}) as NodeJS.Timeout);
    vi.spyOn(globalThis, 'clearInterval').mockImplementation(() => undefined);
    const lease = (await w.take(3000))!;
    expect(lease.generation).toBe(T);
    await lease.stop();
  });
});

describe('stopping', () => {
  it('waits for a renewal in flight, and does not fail when it fails', async () => {
    const w = world();
    const lease = (await w.take(60_000))!;
    const renewal = gate();
    w.outbox.fault('renewLease', { before: () => renewal.opened }, { fail: new Error('storage down') });
    const kept = lease.keep(true);
    let stopped = false;
    const stopping = lease.stop().then(() => (stopped = true));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    renewal.open();
    await kept;
    await stopping;
    expect(stopped).toBe(true);
    await expect(lease.keep(true)).rejects.toThrow('storage down');
    await lease.stop();
  });
});
