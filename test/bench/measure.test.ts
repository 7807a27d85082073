// The bench's readings of /proc: a process's CPU time, the machine's busy time, and from them the
// other load a timed run shared the machine with (a run above the threshold is not comparable).
import { describe, expect, it } from 'vitest';
import { machineBusySecondsOf, otherCoresOver, processCpuSecondsOf } from '../../bench/lib/measure';

// /proc/<pid>/stat: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
const procStat = (comm: string, utime: number, stime: number) => `4242 (${comm}) S 1 4242 4242 0 -1 4194560 1200 0 3 0 ${utime} ${stime} 7 9 20 0 11 0 5000 123456789 4000`;

describe('processCpuSecondsOf', () => {
  it('adds user and system time, in seconds at 100 ticks a second', () => {
    expect(processCpuSecondsOf(procStat('node', 250, 50))).toBe(3);
  });

  it('counts fields after the last parenthesis, so a command name with spaces and parentheses does not shift them', () => {
    expect(processCpuSecondsOf(procStat('node (azurite) x', 100, 20))).toBeCloseTo(1.2, 10);
  });
});

describe('machineBusySecondsOf', () => {
  it('counts user, nice, system and steal, not idle, I/O wait or interrupts', () => {
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    const stat = 'cpu  100 5 50 90000 20 3 7 11 0 0\ncpu0 50 2 25 45000 10 1 3 5 0 0\nintr 12345\n';
    expect(machineBusySecondsOf(stat)).toBeCloseTo(1.66, 10);
  });
});

describe('otherCoresOver', () => {
  it('is the machine’s busy time less ours, per second of the run', () => {
    // 10 s: the machine was busy 14 CPU-seconds, our processes 11 of them: 0.3 cores of other load.
    expect(otherCoresOver([100, 114], [40, 51], 10)).toBe(0.3);
  });

  it('never goes below 0 (the readings are taken a moment apart)', () => {
    expect(otherCoresOver([100, 110], [40, 50.5], 10)).toBe(0);
  });

  it('is null when a reading is missing or the run took no time', () => {
    expect(otherCoresOver([undefined, 110], [40, 50], 10)).toBeNull();
    expect(otherCoresOver([100, 110], [40, undefined], 10)).toBeNull();
    expect(otherCoresOver([100, 110], [40, 50], 0)).toBeNull();
  });
});
