// What the key-recovery and re-enrolment tests share: a client for the enrolment and admin key
// routes over real HTTP, a direct handle on the ServerKeys table, and a storage policy that holds
// one chosen write while something else runs (to stage a race in a fixed order).
import type { TableClient } from '@azure/data-tables';
import { expect } from 'vitest';
import { SECRET_KEEPING_COLLECTOR } from '../../src/app/reenrolment';
import type { StoragePolicy } from '../../src/store';
import { alertRecords, type Json } from './http';
import { snapshot } from './snapshots';
import { stackTables, TEST_KEYS, type TestStack } from './stack';

export const fqdn = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;

/** When armed, the next storage request `when` matches waits for `during` to finish first (one write, paused). */
export interface PauseSwitch {
  when?: (method: string, url: string, body: string) => boolean;
  during?: () => Promise<void>;
}

/** A switch and the storage policy it drives (give the policy to startTestStack). */
export function pausedWrites(): { pause: PauseSwitch; policy: StoragePolicy } {
  const pause: PauseSwitch = {};
  const policy: StoragePolicy = {
    name: 'testPauseWrite',
    async sendRequest(request, next) {
      const { when, during } = pause;
      if (when && during && when(request.method, decodeURIComponent(request.url), typeof request.body === 'string' ? request.body : '')) {
        pause.when = pause.during = undefined;
        await during();
      }
      return next(request);
    },
  };
  return { pause, policy };
}

export type Reply = { status: number; body: Json };

export function enrolmentClient(stack: TestStack) {
  const base = stack.baseUrl;
  const call = async (method: string, path: string, key: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const res = await fetch(`${base}/api/${path}`, {
      method,
      headers: { ...(key ? { 'x-api-key': key } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    expect(res.status, `${method} ${path}: ${text.slice(0, 300)}`).toBeLessThan(500);
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Json };
  };
  return {
    call,
    /**
     * Enrols as the collector of `version` (by default the first that keeps its request secret);
     * null: as the 1.0 collector, which named none.
     */
    enrol: (host: string, headers: Record<string, string> = {}, version: string | null = SECRET_KEEPING_COLLECTOR) =>
      call('POST', 'enroll', TEST_KEYS.enrolment, { host: { name: host, fqdn: fqdn(host) }, ...(version === null ? {} : { collector: { name: 'Send-PostureSnapshot', version } }) }, headers),
    post: (key: string, host: string) => call('POST', 'snapshots', key, snapshot({ host })),
    manifest: (key: string) => call('GET', 'manifest', key),
    refused: async () => {
      const r = await call('GET', 'refused-servers', TEST_KEYS.admin);
      expect(r.status).toBe(200);
      return r.body.items as Json[];
    },
  };
}

/** The audit records of one name about `server`. */
export const recordsOf = (stack: TestStack, name: string, server: string) => alertRecords(stack).filter((r) => r.name === name && r.fields.server === server);

export function serverKeysTable(stack: TestStack): TableClient {
  return stackTables(stack).serverKeys;
}
