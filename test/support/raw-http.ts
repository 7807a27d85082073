// HTTP over a raw socket, so nothing in the client hides what the server does: whether it
// answered, what, and whether it closed the connection.
import { connect, type Socket } from 'node:net';

export interface RawReply {
  /** The status line's code, or undefined when the server closed without answering. */
  status?: number;
  text: string;
  /** The server closed the connection. */
  closed: boolean;
}

/**
 * Opens a socket, writes `head` (and `then` lets the test keep writing), and resolves with what
 * came back once the answer is complete or the socket closed; rejects after `deadlineMs`.
 */
export function raw(base: string, head: string, options: { deadlineMs?: number; then?: (socket: Socket) => void } = {}): Promise<RawReply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let text = '';
    let done = false;
    const end = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : undefined, text, closed });
      socket.destroy();
    };
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      socket.destroy();
      reject(new Error(`No answer and no close within ${options.deadlineMs ?? 5000} ms; got ${JSON.stringify(text.slice(0, 200))}`));
    }, options.deadlineMs ?? 5000);
    socket.on('data', (d) => {
      text += d.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)/i.exec(text);
      if (headEnd >= 0 && length && text.length >= headEnd + 4 + Number(length[1])) end(/\r\nconnection: close/i.test(text));
    });
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
