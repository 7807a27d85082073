// A lean HTTP client for the load generator: node:http with a keep-alive agent sized to the
// concurrency, so connection set-up is not part of what is measured.
import { Agent, request } from 'node:http';

export class HttpClient {
  readonly #agent: Agent;
  constructor(
    private readonly port: number,
    concurrency: number,
  ) {
    // Idle sockets are closed here after 4 s, before the local host closes them (keep-alive 5 s):
    // a request written to a socket the server is closing fails with "socket hang up".
    this.#agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency, timeout: 4000 });
  }

  send(method: 'GET' | 'POST', path: string, key: string, body?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { 'x-api-key': key };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = request({ host: '127.0.0.1', port: this.port, method, path, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
