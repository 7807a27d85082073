// Small helpers for end-to-end requests against a TestStack.
import { expect } from 'vitest';
import { SERVER_ID, serverIdOf } from '../../src/snapshot/normalise';
import type { TEST_KEYS, TestStack } from './stack';

/** Response JSON as tests read it: any property at any depth. */
export type Json = any;

export async function post(
  stack: TestStack,
  doc: unknown,
  options: { key?: keyof typeof TEST_KEYS | null; headers?: Record<string, string>; lang?: string; drain?: boolean } = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const key = options.key === undefined ? 'ingest' : options.key;
  // The ingest credential is the posting host's own server key (enrolled on first use).
  const server = key === 'ingest' ? serverOfDoc(doc) : undefined;
  const res = await stack.request('snapshots', {
    method: 'POST',
    key: server ? null : key,
    headers: {
      'content-type': 'application/json',
      ...(server ? { 'x-api-key': await stack.serverKey(server) } : {}),
      ...(options.lang ? { 'accept-language': options.lang } : {}),
      ...options.headers,
    },
    body: typeof doc === 'string' ? doc : JSON.stringify(doc),
  });
  noInternalErrors(stack, res.status);
  const body: Json = await res.json();
  // What the post owes the fleet-wide tables is projected before the test reads them (the local
  // host's projector would get there within a second on its own). Storage may be down on purpose:
  // the entries then wait for a later drain, which a test of projections asserts on. `drain: false`
  // leaves them for the test to drain (what a request costs, or what waits, measured apart).
  if (options.drain !== false) await stack.projected().catch(() => undefined);
  return { status: res.status, body, headers: res.headers };
}

/** The server id a snapshot document claims, when it is well-formed enough to have one. */
export function serverOfDoc(doc: unknown): string | undefined {
  if (typeof doc === 'string') {
    try {
      return serverOfDoc(JSON.parse(doc));
    } catch {
      return undefined;
    }
  }
  const host = typeof doc === 'object' && doc !== null ? (doc as { host?: unknown }).host : undefined;
  if (typeof host !== 'object' || host === null) return undefined;
  const { name, fqdn } = host as { name?: unknown; fqdn?: unknown };
  if (typeof name !== 'string' || (fqdn !== undefined && typeof fqdn !== 'string')) return undefined;
  const id = serverIdOf({ name, fqdn: fqdn as string | undefined });
  return SERVER_ID.test(id) ? id : undefined;
}

/** A 500 is never a valid answer: fail with what the service logged, whatever the test expects. */
function noInternalErrors(stack: TestStack, status: number): void {
  if (status !== 500) return;
  const logged = stack.logs.filter((l) => l.level === 'error').map((l) => l.message);
  throw new Error(`The service answered 500; it logged:\n${logged.join('\n')}`);
}

export async function get(stack: TestStack, path: string, options: { key?: keyof typeof TEST_KEYS | null; headers?: Record<string, string> } = {}) {
  const res = await stack.request(path, { key: options.key === undefined ? 'reader' : options.key, headers: options.headers });
  noInternalErrors(stack, res.status);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** Every page of a paged listing, following continuation tokens. */
export async function getAll(stack: TestStack, path: string): Promise<{ items: Json[]; pages: number }> {
  const items: Json[] = [];
  let token: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const r = await get(stack, token ? `${path}${sep}continuationToken=${encodeURIComponent(token)}` : path);
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
    items.push(...r.body.items);
    token = r.body.continuationToken;
    pages++;
  } while (token && pages < 100);
  return { items, pages };
}

/** The alert records the stack logged, parsed. */
export function alertRecords(stack: TestStack): { name: string; fields: Record<string, unknown> }[] {
  return stack.logs.flatMap((l) => {
    const m = /^(FleetPosture\.\w+) (\{.*\})$/.exec(l.message);
    return m ? [{ name: m[1]!, fields: JSON.parse(m[2]!) as Record<string, unknown> }] : [];
  });
}

/** An answer as a test reads it: status, parsed JSON body, and the ETag header. */
export interface Reply {
  readonly status: number;
  readonly body: Json;
  readonly etag: string | null;
}

/** One admin request with an optional JSON body. */
export async function adminCall(stack: TestStack, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const r = await stack.request(path, {
    method,
    key: 'admin',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : undefined) as Json, etag: r.headers.get('etag') };
}

/** Posts a snapshot and expects it accepted, leaving what it owes the fleet-wide tables for the test to drain. */
export async function postUndrained(stack: TestStack, doc: Record<string, unknown>): Promise<void> {
  expect((await post(stack, doc, { drain: false })).status).toBe(201);
}

/** A time `m` minutes before now. */
export const minutesAgo = (m: number): number => Date.now() - m * 60_000;
