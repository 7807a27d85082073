// Small measuring tools: percentiles, a bounded concurrency runner, /proc sampling of a process's
// RSS and CPU time (Linux; elsewhere the figures are reported as null).
import { readFileSync } from 'node:fs';

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

/** The middle value; of an even count, the mean of the middle two (NaN when empty). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const round = (x: number, digits = 1): number => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

export interface RunStats {
  readonly n: number;
  readonly errors: number;
  readonly errorSamples: string[];
  readonly wallMs: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * Runs `jobs` operations with `concurrency` workers; each worker takes the next index. Latency is
 * measured around each operation; an operation that throws counts as an error.
 */
export async function runConcurrent(jobs: number, concurrency: number, op: (i: number) => Promise<void>): Promise<RunStats> {
  const lat: number[] = [];
  let next = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= jobs) return;
      const s = performance.now();
      try {
        await op(i);
        lat.push(performance.now() - s);
      } catch (error) {
        errors++;
        if (errorSamples.length < 3) errorSamples.push(error instanceof Error ? error.message.slice(0, 300) : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs) }, worker));
  const wallMs = performance.now() - t0;
  lat.sort((a, b) => a - b);
  return { n: jobs, errors, errorSamples, wallMs, perSecond: ((jobs - errors) / wallMs) * 1000, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99) };
}

const TICKS = 100; // USER_HZ on Linux

/**
 * CPU seconds (user + system) in a `/proc/<pid>/stat` line. Its second field, the command name in
 * parentheses, may itself hold spaces and parentheses, so the fields are counted after the last ')'.
 */
export function processCpuSecondsOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** CPU seconds (user + system) a process has used, or undefined off Linux. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    return processCpuSecondsOf(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Busy CPU seconds in `/proc/stat`'s first line (every core together): processes' time (user, nice,
 * system) and steal time. Idle, I/O wait and interrupt time are left out: on loopback interrupts
 * are mostly the bench's own traffic (about 0.1 core at c=1), charged to no process.
 */
export function machineBusySecondsOf(procStat: string): number {
  const first = procStat.split('\n', 1)[0] ?? '';
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = first.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + steal) / TICKS;
}

/** Busy CPU seconds of the whole machine (machineBusySecondsOf), or undefined off Linux. */
export function machineCpuSeconds(): number | undefined {
  try {
    return machineBusySecondsOf(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Cores kept busy by everything but our processes over `seconds`: the machine's busy seconds less
 * ours, never below 0 (the two are read a moment apart), or null when anything was unread.
 */
export function otherCoresOver(machine: readonly [number | undefined, number | undefined], ours: readonly [number | undefined, number | undefined], seconds: number): number | null {
  const [m0, m1] = machine;
  const [o0, o1] = ours;
  if (m0 === undefined || m1 === undefined || o0 === undefined || o1 === undefined || !(seconds > 0)) return null;
  return round(Math.max(0, m1 - m0 - (o1 - o0)) / seconds, 2);
}

/**
 * Measures, from now until stopped, how many cores processes other than `pids` kept busy (steal
 * time included: another VM on the host is load too). A run the machine shared with other work is
 * not comparable with its pair, so each run reports it and the bench flags runs above a threshold.
 */
export function otherLoad(pids: readonly (number | undefined)[]): { stop(): number | null } {
  const ours = (): number | undefined => {
    let sum = 0;
    for (const pid of pids) {
      const s = cpuSeconds(pid);
      if (s === undefined) return undefined;
      sum += s;
    }
    return sum;
  };
  const m0 = machineCpuSeconds();
  const o0 = ours();
  const t0 = performance.now();
  return {
    stop() {
      return otherCoresOver([m0, machineCpuSeconds()], [o0, ours()], (performance.now() - t0) / 1000);
    },
  };
}

/**
 * Waits until every process in `pids` has used less than `share` of one core over `windowMs`, at
 * most `maxMs`; returns how long it waited. Each timed run starts from a quiet machine: work a
 * process is still doing for the previous run (Azurite's garbage collection after a burst, a
 * projector drain) would otherwise be charged to whichever run comes next.
 */
export async function settle(pids: readonly (number | undefined)[], maxMs: number, share = 0.05, windowMs = 500): Promise<number> {
  const t0 = performance.now();
  const used = (): number => pids.reduce<number>((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
  while (performance.now() - t0 < maxMs) {
    const before = used();
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    if (used() - before < (share * windowMs) / 1000) break;
  }
  return Math.round(performance.now() - t0);
}

export function rssBytes(pid: number | undefined): number | undefined {
  return statusKb(pid, 'VmRSS');
}

/**
 * The part of a process's RSS that is file-backed (RssFile: its binary and libraries mapped in),
 * against the anonymous memory its heap and buffers take: a larger Node binary shows here.
 */
export function rssFileBytes(pid: number | undefined): number | undefined {
  return statusKb(pid, 'RssFile');
}

/** The status lines read: compiled once, as the RSS is sampled every 100 ms in the load generator's process. */
const STATUS_LINES = { VmRSS: /^VmRSS:\s+(\d+) kB/m, RssFile: /^RssFile:\s+(\d+) kB/m } as const;

/** A "<field>: N kB" line of `/proc/<pid>/status`, in bytes; undefined off Linux or once the process is gone. */
function statusKb(pid: number | undefined, field: keyof typeof STATUS_LINES): number | undefined {
  if (!pid) return undefined;
  try {
    const m = STATUS_LINES[field].exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; returns the peak. */
export function sampleRss(pid: number | undefined, everyMs = 100): { stop(): number | undefined } {
  let peak: number | undefined = rssBytes(pid);
  const timer = setInterval(() => {
    const r = rssBytes(pid);
    if (r !== undefined && (peak === undefined || r > peak)) peak = r;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const r = rssBytes(pid);
      if (r !== undefined && (peak === undefined || r > peak)) peak = r;
      return peak;
    },
  };
}

export const mb = (bytes: number | undefined): number | null => (bytes === undefined ? null : round(bytes / 1024 / 1024, 1));
