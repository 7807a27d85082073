// The local host: Node's http server in front of the same function handlers Azure runs, with the
// Functions host's routing (/api/<route>, {param} segments) and HttpRequest/InvocationContext
// objects built by @azure/functions' own constructors.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { HttpRequest, HttpResponse, InvocationContext, type HttpHandler, type HttpResponseInit, type LogLevel } from '@azure/functions';
import type { PostureApp } from '../app/create-app';
import type { FunctionModule } from './routes';

export type LogSink = (entry: { level: LogLevel; functionName: string; invocationId: string; message: string }) => void;

export interface LocalHostOptions {
  readonly app: PostureApp;
  /** 0 picks a free port. Default 7071, like Core Tools. */
  readonly port?: number;
  readonly hostname?: string;
  /** Where InvocationContext logs go (default: console). */
  readonly log?: LogSink;
}

export interface LocalHost {
  readonly port: number;
  readonly baseUrl: string;
  readonly server: Server;
  close(): Promise<void>;
}

interface Route {
  readonly name: string;
  readonly methods: readonly string[];
  readonly pattern: RegExp;
  readonly params: readonly string[];
  readonly handler: HttpHandler;
}

function compile(route: string): { pattern: RegExp; params: string[] } {
  const params: string[] = [];
  let source = '';
  route.split('/').forEach((seg, i) => {
    const sep = i === 0 ? '' : '/';
    const m = /^\{([A-Za-z_][A-Za-z0-9_]*)(\??)\}$/.exec(seg);
    if (m?.[1]) {
      params.push(m[1]);
      // An optional segment ({id?}) may be left out together with its slash, as in Azure.
      source += m[2] ? `(?:${sep}([^/]+))?` : `${sep}([^/]+)`;
    } else source += sep + seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return { pattern: new RegExp(`^/api/${source}/?$`, 'i'), params };
}

function format(args: unknown[]): string {
  return args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? (a.stack ?? a.message) : JSON.stringify(a))).join(' ');
}

const consoleSink: LogSink = ({ level, functionName, message }) => {
  const line = `[${new Date().toISOString()}] ${functionName}: ${message}`;
  if (level === 'error' || level === 'critical') console.error(line);
  else if (level === 'warning') console.warn(line);
  else if (level !== 'trace' && level !== 'debug') console.log(line);
};

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * Reads at most `cap` bytes of the body, counting while reading; past the cap it stops reading
 * (the socket is paused, nothing more is buffered) and reports `overflow`, so the handler answers
 * 413 and the connection is closed without draining the rest of an endless upload.
 */
function readCapped(req: IncomingMessage, cap: number): Promise<{ bytes: Buffer; overflow: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let settled = false;
    const finish = (overflow: boolean) => {
      if (settled) return;
      settled = true;
      resolve({ bytes: Buffer.concat(chunks), overflow });
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      const part = chunk.subarray(0, cap - kept);
      chunks.push(part);
      kept += part.length;
      if (kept >= cap) {
        req.pause();
        finish(true);
      }
    });
    req.on('end', () => finish(false));
    req.on('error', (error) => (settled ? undefined : ((settled = true), reject(error))));
  });
}

const LINGER_BYTES = 4 * 1024 * 1024;
const LINGER_MS = 2000;

function lingerThenClose(req: IncomingMessage): void {
  let discarded = 0;
  const close = () => req.socket.destroy();
  const timer = setTimeout(close, LINGER_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_BYTES) {
      clearTimeout(timer);
      close();
    }
  });
  req.on('end', () => clearTimeout(timer));
  req.resume();
}

async function writeResponse(res: ServerResponse, result: HttpResponseInit | HttpResponse): Promise<void> {
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => (headers[key] = value));
  const body = Buffer.from(await response.arrayBuffer());
  if (body.length > 0 && !headers['content-type']) headers['content-type'] = 'application/json; charset=utf-8';
  res.writeHead(response.status, { ...headers, 'content-length': String(body.length) });
  res.end(body);
}

/**
 * Loads the function modules. Outside the Functions host, @azure/functions skips `app.http`
 * registration with one warning per function; the local host registers routes itself, so those
 * warnings are noise here and are filtered while the modules load.
 */
async function loadFunctions(): Promise<Readonly<Record<string, FunctionModule>>> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('because the "@azure/functions" package is in test mode')) return;
    warn(...args);
  };
  try {
    return (await import('./routes.js')).FUNCTIONS;
  } finally {
    console.warn = warn;
  }
}

export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const { app } = options;
  const FUNCTIONS = await loadFunctions();
  const sink = options.log ?? consoleSink;
  const routes: Route[] = Object.entries(FUNCTIONS).map(([name, mod]) => ({
    name,
    methods: (mod.options.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
    ...compile(mod.options.route ?? name),
    handler: mod.createHandler(() => app),
  }));
  // One byte past the limit is enough for the handler to see the body is too large.
  const bodyCap = app.settings.maxSnapshotBytes + 1;
  const hostname = options.hostname ?? '127.0.0.1';

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? `${hostname}`}`);
      const method = (req.method ?? 'GET').toUpperCase();
      const matches = routes.flatMap((r) => {
        const m = r.pattern.exec(url.pathname);
        return m ? [{ r, m }] : [];
      });
      if (matches.length === 0) {
        req.resume();
        return sendJson(res, 404, { error: 'not_found', message: `No function is served at ${url.pathname}.` });
      }
      const hit = matches.find(({ r }) => r.methods.includes(method));
      if (!hit) {
        req.resume();
        const allow = [...new Set(matches.flatMap(({ r }) => r.methods))].join(', ');
        return sendJson(res, 405, { error: 'method_not_allowed', message: `${url.pathname} accepts ${allow}, not ${method}.` }, { Allow: allow });
      }
      const params: Record<string, string> = {};
      let badParam = false;
      hit.r.params.forEach((name, i) => {
        try {
          params[name] = decodeURIComponent(hit.m[i + 1] ?? '');
        } catch {
          badParam = true;
        }
      });
      if (badParam) {
        req.resume();
        return sendJson(res, 400, { error: 'invalid_query', message: 'The path holds an invalid percent-encoding.' });
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      // The Functions host hands handlers a fully read body; do the same, capped.
      delete headers['transfer-encoding'];
      const hasBody = method !== 'GET' && method !== 'HEAD';
      const read = hasBody ? await readCapped(req, bodyCap) : (req.resume(), undefined);
      const bytes = read?.bytes;

      const request = new HttpRequest({ method, url: url.toString(), headers, params, body: bytes ? { bytes } : undefined });
      const invocationId = randomUUID();
      const context = new InvocationContext({
        invocationId,
        functionName: hit.r.name,
        logHandler: (level, ...args) => sink({ level, functionName: hit.r.name, invocationId, message: format(args) }),
      });
      const result = await hit.r.handler(request, context);
      await writeResponse(res, result ?? { status: 204 });
      // An upload cut off at the cap: the answer (413) is out; discard a little more so the
      // client can read it, then close instead of reading the rest of an endless body.
      if (read?.overflow) lingerThenClose(req);
    })().catch((error: unknown) => {
      sink({ level: 'error', functionName: 'local-host', invocationId: '', message: format(['Local host failure', error]) });
      if (!res.headersSent) sendJson(res, 500, { error: 'internal_error', message: 'The local host failed; see its log.' });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7071, hostname, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 7071);
  return {
    port,
    baseUrl: `http://${hostname === '0.0.0.0' ? 'localhost' : hostname}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
