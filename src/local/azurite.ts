// Starts Azurite's table service as a child process (in memory, or persisted in a folder) and
// stops it again. Used by `npm start` and by the end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import path from 'node:path';

export interface AzuriteOptions {
  /** Port for the table service; 0 or undefined picks a free one. */
  readonly port?: number;
  /** How a free port is picked when none is given (default: one the system hands out now). */
  readonly pickPort?: () => Promise<number>;
  /** A folder to persist data in; in-memory when absent. */
  readonly location?: string;
  /** Where Azurite's own output goes (default: discarded). */
  readonly onOutput?: (line: string) => void;
  /**
   * Azurite's per-request access log (default off: nothing reads it, and writing a line per
   * request cost Azurite about a tenth of its CPU under the benchmark's load).
   */
  readonly accessLog?: boolean;
  /** How long to wait for start-up (default 20 s). */
  readonly startTimeoutMs?: number;
  /** Node flags for Azurite's process (the benchmark's CPU profile of the storage side). */
  readonly nodeArgs?: readonly string[];
  /**
   * Run Azurite in a process group of its own, so a Ctrl-C in the terminal reaches only this
   * process, which stops Azurite once its requests are done; it is killed when this process exits.
   */
  readonly ownProcessGroup?: boolean;
}

export interface AzuriteHandle {
  readonly port: number;
  readonly connectionString: string;
  readonly pid: number | undefined;
  /** Stops gracefully (Azurite saves a persisted database on SIGINT), then forcefully. */
  stop(): Promise<void>;
}

/** The well-known development account key, public by design. */
const DEV_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function azuriteConnectionString(port: number): string {
  return `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEV_ACCOUNT_KEY};TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;
}

/** A port free on 127.0.0.1 now. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/**
 * `count` different ports free on 127.0.0.1 now. Each is held until all are found: one released
 * before the next is asked for could be handed out again, and two programs started on the pair
 * would meet on one port.
 */
export async function freePorts(count: number): Promise<number[]> {
  const held: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const srv = createServer();
      held.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', resolve);
      });
    }
    return held.map((srv) => (srv.address() as AddressInfo).port);
  } finally {
    await Promise.all(held.map((srv) => new Promise((resolve) => srv.close(resolve))));
  }
}

function azuriteTableMain(): string {
  // azurite is a devDependency: present after `npm ci`, the only install the local host needs.
  const pkg = require.resolve('azurite/package.json');
  return path.join(path.dirname(pkg), 'dist', 'src', 'table', 'main.js');
}

/** How many ports are picked before a start that keeps meeting a taken one gives up. */
const PICKED_PORT_ATTEMPTS = 3;

/** Azurite could not listen: the port was taken. */
class PortTakenError extends Error {}

export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteHandle> {
  // A picked port is free when it is picked, not always when Azurite listens on it: another
  // process (a test file running beside this one) may take it in between. Then another is picked;
  // a port the caller named is the caller's to change.
  for (let attempt = 1; ; attempt++) {
    const port = options.port || (await (options.pickPort ?? freePort)());
    try {
      return await launchAzurite(port, options);
    } catch (error) {
      if (options.port || attempt >= PICKED_PORT_ATTEMPTS || !(error instanceof PortTakenError)) throw error;
    }
  }
}

async function launchAzurite(port: number, options: AzuriteOptions): Promise<AzuriteHandle> {
  const args = [...(options.nodeArgs ?? []), azuriteTableMain(), '--tableHost', '127.0.0.1', '--tablePort', String(port), '--disableTelemetry', '--skipApiVersionCheck', '--loose'];
  if (!options.accessLog) args.push('--silent');
  if (options.location) args.push('--location', options.location);
  else args.push('--inMemoryPersistence');
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: options.ownProcessGroup === true, windowsHide: true });
  // Out of this process's group, Azurite outlives a crash of it unless killed on the way out.
  const killOnExit = () => child.kill('SIGKILL');
  if (options.ownProcessGroup) {
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
  }
  const output: string[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split(/\r?\n/)) {
      if (!line) continue;
      output.push(line);
      if (output.length > 50) output.shift();
      options.onOutput?.(line);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Azurite did not start on port ${port} within ${options.startTimeoutMs ?? 20000} ms:\n${output.join('\n')}`));
    }, options.startTimeoutMs ?? 20_000);
    const check = (chunk: Buffer) => {
      if (chunk.toString('utf8').includes('successfully started')) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const message = `Azurite exited with code ${code} before it started:\n${output.join('\n')}`;
      reject(output.some((line) => line.includes('EADDRINUSE')) ? new PortTakenError(message) : new Error(message));
    });
  });

  let stopped: Promise<void> | undefined;
  return {
    port,
    connectionString: azuriteConnectionString(port),
    pid: child.pid,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGINT');
      });
      return stopped;
    },
  };
}
