// The local host: Node's http server in front of the route table Azure registers, with the
// Functions host's routing (<route prefix>/<route>, {param} segments) and HttpRequest/InvocationContext
// objects built by @azure/functions' own constructors. Bodies are streamed to the handler, as in
// Azure with HTTP streaming on: the handler checks the key and the declared size before it reads
// a byte, so no client holds a connection by sending (or promising) a body nobody asked for.
import { randomUUID } from 'node:crypto';
import { createServer, maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { HttpRequest, HttpResponse, InvocationContext, type HttpHandler, type HttpRequestInit, type HttpResponseInit, type LogLevel } from '@azure/functions';
import type { PostureApp } from '../app/create-app';
import { ROUTE_BASE } from '../app/route-prefix';
import { ROUTES } from '../app/routes';
import { serveRoute } from '../app/serve-route';
import { Admission } from './admission';
import { HTTP_PER_INSTANCE_CONCURRENCY, LOCAL_HOST_QUEUE_LIMIT } from './http-concurrency';

export type LogSink = (entry: { level: LogLevel; functionName: string; invocationId: string; message: string }) => void;

export interface LocalHostOptions {
  readonly app: PostureApp;
  /** 0 picks a free port. Default 7071, like Core Tools. */
  readonly port?: number;
  readonly hostname?: string;
  /** Where InvocationContext logs go (default: console). */
  readonly log?: LogSink;
  /** Connection limits, in seconds (defaults: LOCAL_HOST_TIMEOUTS). */
  readonly timeouts?: Partial<LocalHostTimeouts>;
  /**
   * The projector's trigger here, as the timer function is in Azure: a drain every this many ms
   * (default 1000; 0: none), and soon after each commit that wrote an outbox entry.
   */
  readonly projectorIntervalMs?: number;
  /**
   * Requests in handlers at once (default HTTP_PER_INSTANCE_CONCURRENCY, as in Azure) and how many
   * may wait for a place beyond those (default LOCAL_HOST_QUEUE_LIMIT; past it: 429).
   */
  readonly concurrency?: Partial<LocalHostConcurrency>;
  /** Milliseconds for the pace a full queue's Retry-After is derived from (default performance.now). */
  readonly clock?: () => number;
}

export interface LocalHostConcurrency {
  readonly limit: number;
  readonly queue: number;
}

/** How long a client may take, in seconds; SECURITY.md lists them. */
export interface LocalHostTimeouts {
  /** From connecting (or the previous answer) to the end of the request headers. */
  readonly headersSeconds: number;
  /** To receive the whole request, headers and body. */
  readonly requestSeconds: number;
  /** Silence from a client in the middle of a request (headers or body) before its socket is closed. */
  readonly idleSeconds: number;
  /** An open keep-alive connection waiting for its next request. */
  readonly keepAliveSeconds: number;
  /** On close: how long the requests already in the host may take to finish before their connections are cut. */
  readonly closeSeconds: number;
}

export const LOCAL_HOST_TIMEOUTS: LocalHostTimeouts = { headersSeconds: 10, requestSeconds: 30, idleSeconds: 15, keepAliveSeconds: 5, closeSeconds: 5 };

export interface LocalHost {
  readonly port: number;
  readonly baseUrl: string;
  readonly server: Server;
  /** Requests in handlers now, and waiting for a place. */
  readonly load: { readonly running: number; readonly waiting: number };
  /**
   * Stops taking connections, lets the requests already in the host finish (at most closeSeconds,
   * then their connections are cut), then stops the projector.
   */
  close(): Promise<void>;
}

/** A request in its route's handler; `abortBody` fails the reading of its body, if it has one. */
interface InHandler {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  abortBody?: (error: Error) => void;
}

interface Route {
  readonly name: string;
  readonly methods: readonly string[];
  readonly pattern: RegExp;
  readonly params: readonly string[];
  readonly handler: HttpHandler;
}

const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

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
    } else source += sep + literal(seg);
  });
  return { pattern: new RegExp(`^${literal(ROUTE_BASE)}/${source}/?$`, 'i'), params };
}

function format(args: unknown[]): string {
  return args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? (a.stack ?? a.message) : JSON.stringify(a))).join(' ');
}

const consoleSink: LogSink = ({ level, functionName, message }) => {
  // The app's jobs name themselves in their messages, for Azure's log that adds no name: not twice.
  const named = message.startsWith(`${functionName}: `) ? message : `${functionName}: ${message}`;
  const line = `[${new Date().toISOString()}] ${named}`;
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
 * The request body as a web stream, read only as fast as the handler pulls (the socket is paused
 * in between), the way the Functions host hands it over with HTTP streaming. Cancelling it (the
 * handler saw enough: too large, refused) only pauses the socket, so the answer can still be sent;
 * `detach` stops it taking data, so the rest can be discarded or the connection closed; `abort`
 * also fails the handler's reading, for a connection the host refused while its body arrived.
 */
function bodyStream(req: IncomingMessage): { stream: ReadableStream<Uint8Array>; detach: () => void; abort: (error: Error) => void } {
  let open = true;
  const detach = () => {
    open = false;
    req.pause();
  };
  let fail: (error: Error) => void = () => undefined;
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        fail = (error) => open && (detach(), controller.error(error));
        req.on('data', (chunk: Buffer) => {
          if (!open) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        });
        req.on('end', () => open && ((open = false), controller.close()));
        req.on('error', fail);
        req.pause();
      },
      pull() {
        if (open) req.resume();
      },
      cancel() {
        detach();
      },
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  );
  return { stream, detach, abort: (error) => fail(error) };
}

const LINGER_BYTES = 4 * 1024 * 1024;
const LINGER_MS = 2000;

// Connections the host is closing: their bytes are thrown away, never parsed.
const lingering = new WeakSet<Duplex>();

/**
 * Closes a connection the client may still be sending on, so that it can read the answer: closing
 * a socket with bytes unread makes the system reset the connection, and a client still sending
 * then fails on its next write without reading the answer waiting for it. So the host ends its
 * side, then reads and throws away what comes until the client closes its own, LINGER_MS pass or
 * LINGER_BYTES came (a client that sends without end), and only then lets go. The bytes are taken
 * from Node's HTTP parser (a data listener of the host's own makes Node hand them over as events
 * instead of to the parser, whose listener is then removed), so none of them is served.
 */
function lingeringClose(socket: Duplex): void {
  if (lingering.has(socket) || socket.destroyed) return;
  lingering.add(socket);
  const parser = socket.listeners('data') as ((chunk: Buffer) => void)[];
  let discarded = 0;
  const close = () => socket.destroy();
  const timer = setTimeout(close, LINGER_MS);
  timer.unref();
  socket.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_BYTES) close();
  });
  for (const listener of parser) socket.off('data', listener);
  // A client that closed its side already needs no wait, and gets none: Node destroys a socket
  // whose both sides have ended (autoDestroy) once the host's side is flushed.
  socket.once('end', close).once('close', () => clearTimeout(timer));
  socket.end();
  socket.resume();
}

/**
 * Node closes a connection after an answer that says Connection: close by ending it and
 * destroying it as soon as the answer is written (destroySoon); on this one it lingers instead.
 */
function lingerOnClose(socket: Duplex): void {
  (socket as Socket).destroySoon = () => lingeringClose(socket);
}

async function writeResponse(res: ServerResponse, result: HttpResponseInit | HttpResponse): Promise<void> {
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => (headers[key] = value));
  // A stream goes out as it comes (chunked), as the Functions host passes it on with HTTP streaming.
  if (!(result instanceof HttpResponse) && result.body instanceof ReadableStream && response.body) return streamResponse(res, response.status, headers, response.body);
  const body = Buffer.from(await response.arrayBuffer());
  if (body.length > 0 && !headers['content-type']) headers['content-type'] = 'application/json; charset=utf-8';
  // A HEAD answer without a body had its stream left out (serve-route): GET's would be chunked, with no length to name.
  if (body.length > 0 || res.req.method !== 'HEAD') headers['content-length'] = String(body.length);
  res.writeHead(response.status, headers);
  res.end(body);
}

/**
 * Writes a streamed body chunk by chunk, waiting for the socket to drain. A stream that fails
 * part-way ends the connection without the closing chunk: the client sees an incomplete response.
 */
async function streamResponse(res: ServerResponse, status: number, headers: Record<string, string>, body: ReadableStream<Uint8Array>): Promise<void> {
  res.writeHead(status, headers);
  const closed = new Promise((resolve) => res.once('close', resolve));
  try {
    for await (const chunk of body) {
      // A client gone stops the reading too (leaving the loop cancels the stream).
      if (res.destroyed) return;
      if (!res.write(chunk)) await Promise.race([new Promise((resolve) => res.once('drain', resolve)), closed]);
    }
    res.end();
  } catch {
    res.destroy();
  }
}

/** The host is reading the request's body now, so a silence or a delay is the client's. */
function readingFromClient(req: IncomingMessage): boolean {
  return !req.complete && req.readableFlowing === true;
}

/** Why the host refuses a connection itself: what it answers, and what a handler reading the body is told. */
type Refusal = 'timeout' | 'invalid' | 'headers';

const REFUSALS: Readonly<Record<Refusal, { readonly status: string; readonly error: string; readonly message: string; readonly why: string }>> = {
  timeout: { status: '408 Request Timeout', error: 'request_timeout', message: 'The request did not arrive in time; the connection is closed.', why: 'the request did not arrive in time' },
  invalid: { status: '400 Bad Request', error: 'invalid_request', message: 'The request is not valid HTTP/1.1; the connection is closed.', why: 'the request is not valid HTTP/1.1' },
  // Node's own limit on the request line and headers together: a URL that long is the usual cause.
  headers: {
    status: '431 Request Header Fields Too Large',
    error: 'headers_too_large',
    message: `The request line and headers exceed ${Math.round(maxHeaderSize / 1024)} KB (a URL or a header that long); the connection is closed.`,
    why: 'the request line and headers are too large',
  },
};

/** The refusal an HTTP parser error calls for. */
function refusalOf(error: NodeJS.ErrnoException): Refusal {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'timeout';
  return error.code === 'HPE_HEADER_OVERFLOW' ? 'headers' : 'invalid';
}

/**
 * A connection refused by the host itself (broken framing, headers past Node's limit, or a request
 * that did not arrive in time): a JSON answer, then a lingering close. Nothing the client sends
 * after it is parsed, so a client that finishes its body anyway never has it served, and one that
 * goes on sending is let go at the linger's bound.
 */
function refuseConnection(socket: Duplex, refusal: Refusal): void {
  if (lingering.has(socket)) return;
  const { status, error, message } = REFUSALS[refusal];
  const text = JSON.stringify({ error, message });
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
  lingeringClose(socket);
}

/**
 * Node's request limit counts from the start of a request to the end of its body, so it also runs
 * out while a handler holds the body unread because it works on something else first (a post's
 * key check waits on storage): that wait is the host's, and the handler's answer stands (a 503
 * with Retry-After when storage fails). Node does not count the request again, so the host does:
 * the client gets the limit anew from when the host next reads the body, and a client sending it
 * slowly is still cut off. The connection is not kept after such a request.
 */
function limitAgainWhenRead(req: IncomingMessage, res: ServerResponse, limitMs: number, refuse: () => void): void {
  if (!res.headersSent) res.setHeader('connection', 'close');
  req.once('resume', () => {
    // An answer already under way cannot be followed by a 408: the connection is cut instead.
    const expire = () => (res.headersSent ? req.socket.destroy() : refuse());
    const timer = setTimeout(() => !req.complete && expire(), limitMs);
    timer.unref();
    const clear = () => clearTimeout(timer);
    req.once('end', clear);
    req.socket.once('close', clear);
  });
}

/**
 * Before an answer: a request whose body was not read to its end will close its connection, once
 * the answer is written, rather than read on a body that may be endless or never come.
 */
function closeIfUnread(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete || res.headersSent) return;
  res.setHeader('connection', 'close');
  lingerOnClose(req.socket);
}

/** An answer of the host itself (no such route, method, path), before any handler ran. */
function answer(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  closeIfUnread(req, res);
  sendJson(res, status, body, headers);
}

/** Why the host could not listen, in a sentence that says what to do; the cause stays attached. */
export function listenError(error: NodeJS.ErrnoException, port: number, hostname: string): Error {
  const where = `${hostname}:${port}`;
  const message =
    error.code === 'EADDRINUSE'
      ? `Port ${port} is already in use on ${hostname}, by another program (a second "npm start", or "func start"?). Stop it, or start on another port: npm start -- --port ${port === 7071 ? 7072 : port + 1}.`
      : error.code === 'EACCES'
        ? `Not allowed to listen on ${where} (ports below 1024 need privileges); start on another port: npm start -- --port 7071.`
        : `Cannot listen on ${where}: ${error.message}`;
  return new Error(message, { cause: error });
}

export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const { app } = options;
  const sink = options.log ?? consoleSink;
  const routes: Route[] = ROUTES.map((route) => ({
    name: route.name,
    methods: route.methods,
    ...compile(route.route),
    handler: (request, context) => serveRoute(app, route, request, context),
  }));
  const hostname = options.hostname ?? '127.0.0.1';
  const timeouts = { ...LOCAL_HOST_TIMEOUTS, ...options.timeouts };
  const ms = (seconds: number) => Math.round(seconds * 1000);

  const admission = new Admission(options.concurrency?.limit ?? HTTP_PER_INSTANCE_CONCURRENCY, options.concurrency?.queue ?? LOCAL_HOST_QUEUE_LIMIT, options.clock);

  // Requests not yet answered, so close() can wait for them.
  const inFlight = new Set<ServerResponse>();
  // The request each connection's handler is running, for the request limit (see limitAgainWhenRead),
  // and how to fail its body's reading when the connection is refused (see refuse).
  const inHandler = new WeakMap<Duplex, InHandler>();
  // Each connection's requests not yet answered, in the order received: Node answers a
  // connection's pipelined requests in that order, so an answer can only follow the earlier ones.
  const owed = new WeakMap<Duplex, InHandler[]>();
  // Requests given up on (their body broken or late behind earlier answers still owed): never run,
  // as their answer can no longer be sent.
  const givenUp = new WeakSet<IncomingMessage>();
  // Connections whose later bytes were refused: a request Node still parses from them afterwards
  // (the client went on sending) is never run, since its answer could not follow the refusal.
  const refused = new WeakSet<Duplex>();
  let closing = false;
  let drained: (() => void) | undefined;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (refused.has(req.socket)) return;
    inFlight.add(res);
    const entry: InHandler = { req, res };
    owed.set(req.socket, [...(owed.get(req.socket) ?? []), entry]);
    res.once('close', () => {
      owed.set(req.socket, (owed.get(req.socket) ?? []).filter((e) => e !== entry));
      settled(res);
    });
    // A request that arrives on an open connection while the host closes is served, and its
    // connection not kept.
    if (closing) res.setHeader('connection', 'close');
    // A client silent mid-request is cut off only while the host is reading its body (the request
    // stream flows), or while an answer waits for it to read what was sent (a streamed export it
    // stopped reading would hold a handler's place for good). Otherwise the silence is the host's:
    // the request waits for a place, or its handler works on something else first (a post's key
    // check reads storage before the body), and the client waits for that answer.
    res.on('timeout', () => {
      if (readingFromClient(req) || res.writableNeedDrain) req.socket.destroy();
    });
    void (async () => {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? `${hostname}`}`);
      const method = (req.method ?? 'GET').toUpperCase();
      const matches = routes.flatMap((r) => {
        const m = r.pattern.exec(url.pathname);
        return m ? [{ r, m }] : [];
      });
      if (matches.length === 0) {
        return answer(req, res, 404, { error: 'not_found', message: `No function is served at ${url.pathname}.` });
      }
      const hit = matches.find(({ r }) => r.methods.includes(method));
      if (!hit) {
        const allow = [...new Set(matches.flatMap(({ r }) => r.methods))].join(', ');
        return answer(req, res, 405, { error: 'method_not_allowed', message: `${url.pathname} accepts ${allow}, not ${method}.` }, { Allow: allow });
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
        return answer(req, res, 400, { error: 'invalid_query', message: 'The path holds an invalid percent-encoding.' });
      }
      const ticket = admission.enter();
      if (!ticket) {
        const wait = admission.clearSeconds;
        return answer(
          req,
          res,
          429,
          { error: 'host_busy', message: `The host is busy (${admission.running} requests running, ${admission.waiting} waiting); retry after ${wait} second${wait === 1 ? '' : 's'}.` },
          { 'Retry-After': String(wait) },
        );
      }
      // A request whose connection ends while it waits (the client left, or the host gave up on a
      // body that did not arrive in time: 408) leaves the queue and never runs.
      const socket = req.socket;
      const withdraw = () => ticket.withdraw();
      socket.once('close', withdraw).once('finish', withdraw);
      const release = await ticket.admitted;
      socket.off('close', withdraw).off('finish', withdraw);
      if (!release || socket.destroyed || socket.writableEnded || givenUp.has(req)) return release?.();
      const running = entry;
      inHandler.set(socket, running);
      try {
        await runHandler(running, url, method, hit.r, params);
      } finally {
        if (inHandler.get(socket) === running) inHandler.delete(socket);
        release();
      }
    })().catch((error: unknown) => {
      sink({ level: 'error', functionName: 'local-host', invocationId: '', message: format(['Local host failure', error]) });
      if (!res.headersSent) answer(req, res, 500, { error: 'internal_error', message: 'The local host failed; see its log.' });
      else res.destroy();
    });
  };

  /** Runs the route's handler with the request as the Functions host builds it, and writes its answer. */
  const runHandler = async (running: InHandler, url: URL, method: string, route: Route, params: Record<string, string>): Promise<void> => {
    const { req, res } = running;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const body = method !== 'GET' && method !== 'HEAD' ? bodyStream(req) : undefined;
    running.abortBody = body?.abort;
    // The request as @azure/functions builds it for a streamed body (its createStreamRequest):
    // a web Request around the incoming stream, which its public init type does not offer.
    const nativeRequest = new Request(url.toString(), { method, headers, body: body?.stream, duplex: 'half' } as RequestInit);
    const request = new HttpRequest({ nativeRequest, params } as unknown as HttpRequestInit);
    const invocationId = randomUUID();
    const context = new InvocationContext({
      invocationId,
      functionName: route.name,
      logHandler: (level, ...args) => sink({ level, functionName: route.name, invocationId, message: format(args) }),
    });
    const result = await route.handler(request, context);
    body?.detach();
    closeIfUnread(req, res);
    await writeResponse(res, result ?? { status: 204 });
  };
  const server = createServer(
    {
      headersTimeout: ms(timeouts.headersSeconds),
      requestTimeout: ms(timeouts.requestSeconds),
      // How often those two are checked: often enough that they hold to about a second.
      connectionsCheckingInterval: Math.min(1000, ms(timeouts.headersSeconds) / 2),
    },
    onRequest,
  );
  // An answer queued behind an earlier one on its connection (pipelined) never gets the socket
  // when the client leaves first, so Node never closes it: the connection's close settles every
  // answer still owed on it, or close() would wait its full limit for them and keep them meanwhile.
  server.on('connection', (socket: Duplex) => {
    socket.once('close', () => {
      for (const { res } of owed.get(socket) ?? []) settled(res);
      owed.delete(socket);
    });
  });
  server.timeout = ms(timeouts.idleSeconds);
  server.keepAliveTimeout = ms(timeouts.keepAliveSeconds);
  // Requests Node's parser refuses (broken framing) or gives up on (a timeout) get a JSON answer
  // like every other refusal, then the connection closes; but a request whose handler holds its
  // body unread is the host's to answer (limitAgainWhenRead), and so are requests received in full
  // before the refused bytes (see closeAfterAnswers).
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    // A connection being closed has had its answer; what it sends now is not the host's concern.
    if (lingering.has(socket)) return;
    if (!socket.writable || error.code === 'ECONNRESET') return void socket.destroy();
    const refusal = refusalOf(error);
    const running = refusal === 'timeout' ? inHandler.get(socket) : undefined;
    if (running && !running.req.complete && !readingFromClient(running.req)) return limitAgainWhenRead(running.req, running.res, ms(timeouts.requestSeconds), () => refuse(socket, 'timeout'));
    refuse(socket, refusal);
  });

  /** A response done with: close() no longer waits for it. */
  const settled = (res: ServerResponse): void => {
    inFlight.delete(res);
    if (inFlight.size === 0) drained?.();
  };

  /**
   * Refuses the connection. A handler reading its body would otherwise wait for bytes that are now
   * discarded, until the linger lets the socket go, holding its place meanwhile; its reading fails
   * at once instead (its own answer can no longer be sent after the refusal). Behind a request
   * received in full and not yet answered there is no refusal (see closeAfterAnswers): the
   * request being received is given up, unanswered, as its answer would come after the close.
   */
  const refuse = (socket: Duplex, refusal: Refusal): void => {
    const why = new Error(REFUSALS[refusal].why);
    const pending = owed.get(socket) ?? [];
    const last = pending.map((e) => e.req.complete).lastIndexOf(true);
    if (last < 0) {
      refuseConnection(socket, refusal);
      inHandler.get(socket)?.abortBody?.(why);
      return;
    }
    for (const late of pending.slice(last + 1)) {
      givenUp.add(late.req);
      late.abortBody?.(why);
      settled(late.res);
    }
    closeAfterAnswers(socket, pending[last]!);
  };

  /**
   * The refused bytes came after requests received in full (pipelined) that are still being
   * answered: a raw refusal written now would come before their answers and, as the connection is
   * then cut, lose them, though what they posted may be stored and the client would send it again.
   * So there is no refusal: those answers go out, the last one closing the connection (lingering,
   * so the client can read them though it goes on sending).
   */
  const closeAfterAnswers = (socket: Duplex, latest: { res: ServerResponse }): void => {
    // Node may report the same connection again (a client that goes on sending); one close is enough.
    if (refused.has(socket)) return;
    refused.add(socket);
    if (!latest.res.headersSent) latest.res.setHeader('connection', 'close');
    lingerOnClose(socket);
    latest.res.once('close', () => lingeringClose(socket));
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, options.port ?? 7071, hostname)));
    server.listen(options.port ?? 7071, hostname, () => resolve());
  });
  const stopProjector = startProjector(app, sink, options.projectorIntervalMs ?? 1000);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 7071);
  return {
    port,
    baseUrl: `http://${hostname === '0.0.0.0' ? 'localhost' : hostname}:${port}`,
    server,
    load: {
      get running() {
        return admission.running;
      },
      get waiting() {
        return admission.waiting;
      },
    },
    close: async () => {
      // As the Functions host drains an instance: no new connections (idle keep-alive ones close
      // now), the requests already in the host finish within a bound, then the rest are cut.
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
      if (inFlight.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms(timeouts.closeSeconds));
          drained = () => (clearTimeout(timer), resolve());
        });
      }
      server.closeAllConnections();
      await stopped;
      await stopProjector();
    },
  };
}

/** The projector on an interval and after commits, logging to the host's sink; returns its stop. */
function startProjector(app: PostureApp, sink: LogSink, intervalMs: number): () => Promise<void> {
  if (intervalMs <= 0) return async () => undefined;
  const invocationId = randomUUID();
  const log = { log: (message: string) => sink({ level: 'information', functionName: 'projector', invocationId, message }) };
  const report = (error: unknown) => sink({ level: 'warning', functionName: 'projector', invocationId, message: format(['Projector run failed; the outbox keeps its entries for the next run:', error]) });
  const release = app.projector.attach(log);
  // The interval catches what no commit of this process announced (other processes, earlier runs);
  // while a kicked drain waits for commits to pause, it waits too.
  const timer = setInterval(() => {
    if (!app.projector.kickPending) void app.projector.drain(log, 30_000).catch(report);
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    release();
    await app.projector.idle();
  };
}
