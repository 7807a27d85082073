// What waits in the outbox and since when, without storage: read from the keys of up to a
// thousand entries, and logged as the record the backlog alert rule reads. The Outbox table is the
// shared in-memory one; test/service/projector-backlog.test.ts reads it from Azurite.
import { describe, expect, it } from 'vitest';
import { BACKLOG_READ, logBacklog, readBacklog, waitedSeconds } from '../../src/app/projector-backlog';
import type { OutboxStore } from '../../src/store';
import { memoryOutbox } from '../support/memory-outbox';

const T = Date.parse('2026-12-06T12:00:00.000Z');

describe('readBacklog', () => {
  it('reads up to a thousand entries and answers how many wait, and the oldest with its server', async () => {
    const calls: unknown[][] = [];
    const outbox = memoryOutbox(calls);
    outbox.seed({ server: 'a', commitId: 'c1', payload: '', storedAt: T - 1000 });
    outbox.seed({ server: 'b', commitId: 'c2', payload: '', storedAt: T - 5000 });
    outbox.seed({ server: 'c', commitId: 'c3', payload: '', storedAt: T - 2000 });
    expect(await readBacklog(outbox.store as unknown as OutboxStore)).toStrictEqual({ waiting: 3, more: false, oldestAt: T - 5000, oldestServer: 'b' });
    expect(calls).toStrictEqual([['oldestWaiting', 1000]]);
    expect(BACKLOG_READ).toBe(1000);
  });

  it('says when more wait than it read, and leaves the oldest out when none waits', async () => {
    const outbox = memoryOutbox([]);
    expect(await readBacklog(outbox.store as unknown as OutboxStore)).toStrictEqual({ waiting: 0, more: false });
    for (let i = 0; i <= BACKLOG_READ; i++) outbox.seed({ server: `s${String(i).padStart(4, '0')}`, commitId: 'c', payload: '', storedAt: T + i });
    expect(await readBacklog(outbox.store as unknown as OutboxStore)).toStrictEqual({ waiting: 1000, more: true, oldestAt: T, oldestServer: 's0000' });
  });
});

describe('waitedSeconds', () => {
  it('is the whole seconds the oldest entry has waited, none when none waits or the clock is behind it', () => {
    expect(waitedSeconds({ waiting: 1, more: false, oldestAt: T }, T + 59_999)).toBe(59);
    expect(waitedSeconds({ waiting: 1, more: false, oldestAt: T }, T + 60_000)).toBe(60);
    expect(waitedSeconds({ waiting: 1, more: false, oldestAt: T }, T - 5000)).toBe(0);
    expect(waitedSeconds({ waiting: 0, more: false }, T)).toBe(0);
  });
});

describe('logBacklog', () => {
  it('logs how many wait, whether more do, the oldest with its server, and its whole minutes', () => {
    const lines: string[] = [];
    logBacklog({ log: (l) => void lines.push(l) }, { waiting: 3, more: true, oldestAt: T, oldestServer: 'exch02' }, T + 20 * 60_000 - 1);
    expect(lines).toStrictEqual(['FleetPosture.ProjectorBacklog {"waiting":3,"more":true,"oldestWaitingAt":"2026-12-06T12:00:00.000Z","oldestServer":"exch02","oldestWaitingMinutes":19}']);
  });

  it('logs nulls and no minutes when none waits', () => {
    const lines: string[] = [];
    logBacklog({ log: (l) => void lines.push(l) }, { waiting: 0, more: false }, T);
    expect(lines).toStrictEqual(['FleetPosture.ProjectorBacklog {"waiting":0,"more":false,"oldestWaitingAt":null,"oldestServer":null,"oldestWaitingMinutes":0}']);
  });
});
