// Starts the service (bench/host-child) as a child process and talks to it over IPC.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ChildAlerts, ChildRequest, ChildStats } from '../host-child';
import { SERVICE_NODE_OPTIONS } from '../../src/local/node-options';

export interface ServiceProcess {
  readonly pid: number | undefined;
  readonly port: number;
  stats(): Promise<ChildStats>;
  reset(): Promise<void>;
  countEntities(on: boolean): Promise<void>;
  /** Alert records logged since the last reset. */
  alerts(): Promise<ChildAlerts>;
  stop(): Promise<void>;
}

/**
 * `hostChild`: the compiled host-child.js to run (default this build's); another checkout's, built,
 * runs that checkout's service with its own modules (bench/ab.ts compares two builds so).
 */
export async function startService(env: Record<string, string>, hostChild = path.join(__dirname, '..', 'host-child.js')): Promise<ServiceProcess> {
  const child: ChildProcess = fork(hostChild, [], {
    env: { ...process.env, ...env },
    // The service runs with the heap settings it is deployed with. BENCH_PROFILE=<dir>: a V8 CPU
    // profile of the service, written when it stops. BENCH_NODE_ARGS: other Node flags instead of
    // the deployed ones (investigating memory; empty for V8's defaults).
    execArgv: [...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []), ...(process.env.BENCH_NODE_ARGS !== undefined ? process.env.BENCH_NODE_ARGS.split(' ').filter(Boolean) : [...SERVICE_NODE_OPTIONS])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiters: ((m: { type: string }) => void)[] = [];
  child.on('message', (m: { type: string }) => waiters.shift()?.(m));
  const next = <T>(): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`The service process exited (code ${code}).`));
      child.once('exit', onExit);
      waiters.push((m) => {
        child.off('exit', onExit);
        resolve(m as T);
      });
    });
  const ask = <T>(m: ChildRequest): Promise<T> => {
    const p = next<T>();
    child.send(m);
    return p;
  };
  const ready = await next<{ type: 'ready'; port: number }>();
  return {
    pid: child.pid,
    port: ready.port,
    stats: () => ask<ChildStats>({ type: 'stats' }),
    reset: async () => void (await ask({ type: 'reset' })),
    countEntities: async (on) => void (await ask({ type: 'countEntities', on })),
    alerts: () => ask<ChildAlerts>({ type: 'alerts' }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.send({ type: 'stop' } satisfies ChildRequest);
      }),
  };
}
