// HTTP over a raw socket, so nothing in the client hides what the server does: whether it
// answered, what, and whether it closed the connection.
import { connect, type Socket } from 'node:net';

export interface RawReply {
  /** The status line's code, or undefined when the server closed without answering. */
  status?: number;
  text: string;
  /**
   * The server closed the connection: seen from the socket, never taken from the answer's
   * Connection header. With `keepSending`, only a server that let go of the connection entirely
   * counts (one that merely ended its side would go on reading what the client sends).
   */
  closed: boolean;
}

export interface RawOptions {
  deadlineMs?: number;
  /** Lets the test keep writing after the head. */
  then?: (socket: Socket) => void;
  /**
   * The client does not close its side when the server ends its own, as a client that ignores
   * the answer and goes on sending: the connection counts as closed only once the socket closes.
   */
  keepSending?: boolean;
}

/**
 * Opens a socket, writes `head`, and resolves with what came back once the answer is complete
 * (and, when it announces a close, the connection closed) or the socket closed; at `deadlineMs`
 * resolves with `closed: false` if an answer came, else rejects.
 */
export function raw(base: string, head: string, options: RawOptions = {}): Promise<RawReply> {
  const url = new URL(base);
  const deadlineMs = options.deadlineMs ?? 5000;
  return new Promise((resolve, reject) => {
    const socket = connect({ port: Number(url.port), host: url.hostname, allowHalfOpen: options.keepSending === true });
    let text = '';
    let done = false;
    let answered = false;
    let announcedClose = false;
    const status = () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      return m ? Number(m[1]) : undefined;
    };
    const end = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ status: status(), text, closed });
      socket.destroy();
    };
    const timer = setTimeout(() => {
      if (done) return;
      if (answered) return end(false);
      done = true;
      socket.destroy();
      reject(new Error(`No answer and no close within ${deadlineMs} ms; got ${JSON.stringify(text.slice(0, 200))}`));
    }, deadlineMs);
    socket.on('data', (d) => {
      text += d.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)/i.exec(text);
      if (headEnd < 0 || !length || text.length < headEnd + 4 + Number(length[1])) return;
      answered = true;
      announcedClose = /\r\nconnection: close/i.test(text);
      // An answer that keeps the connection is complete here; one that closes it waits for the close.
      if (!announcedClose) end(false);
    });
    if (options.keepSending !== true) socket.on('end', () => end(true));
    socket.on('close', () => end(true));
    socket.on('error', () => end(true));
    socket.write(head);
    options.then?.(socket);
  });
}

export const postHead = (host: string, headers: Record<string, string>) =>
  `POST /api/snapshots HTTP/1.1\r\nHost: ${new URL(host).host}\r\nContent-Type: application/json\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

export interface SendingClient {
  /** What the server sent, once the client reads. */
  readonly text: string;
  /** The client's socket error (EPIPE, ECONNRESET), if any. */
  readonly error?: string;
  readonly closed: boolean;
  /** Starts reading what the server sent, as a client busy sending reads it afterwards. */
  read(): void;
  /** Sends `text` now. */
  send(text: string): void;
  /** Stops sending and lets the connection go. */
  stop(): void;
}

/**
 * A client that writes `head`, then goes on sending `chunk` every `everyMs` while it does not read:
 * a client uploading a body that reads the answer only afterwards. It keeps its side open. Without
 * a chunk it sends nothing more: a client gone silent in the middle of its body.
 */
export function sendingClient(base: string, head: string, chunk = '', everyMs = 0): SendingClient {
  const url = new URL(base);
  const socket = connect({ port: Number(url.port), host: url.hostname, allowHalfOpen: true });
  const state = { text: '', error: undefined as string | undefined, closed: false };
  socket.pause();
  socket.on('data', (d: Buffer) => (state.text += d.toString('latin1')));
  socket.on('error', (e: NodeJS.ErrnoException) => (state.error ??= e.code ?? e.message));
  socket.on('close', () => {
    state.closed = true;
    clearInterval(timer);
  });
  socket.write(head);
  const timer = chunk ? setInterval(() => socket.writable && socket.write(chunk), everyMs) : undefined;
  return {
    get text() {
      return state.text;
    },
    get error() {
      return state.error;
    },
    get closed() {
      return state.closed;
    },
    read: () => socket.resume(),
    send: (text) => void socket.write(text),
    stop: () => {
      clearInterval(timer);
      socket.destroy();
    },
  };
}
