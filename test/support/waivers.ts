// What the waiver tests look for in storage and in the alert log, shared so each file says only
// what its own case does.
import { tableNames } from '../../src/store';
import { alertRecords } from './http';
import type { TestStack } from './stack';

/** A request matcher for fault policies: a write of a waiver to the Waivers table whose body holds `text`. */
export const waiverWrite = (stack: TestStack, text: string) => (method: string, url: string, body: string) =>
  method === 'PUT' && decodeURIComponent(url).includes(`/${tableNames(stack.settings.tablePrefix).waivers}(`) && body.includes(text);

/** The alerts a waiver handed back when it ended or narrowed: [server, reason] per record logged. */
export const reRaisedBy = (stack: TestStack, id: string) =>
  alertRecords(stack)
    .filter((r) => r.name === 'FleetPosture.WaiverExpired' && r.fields.waiverId === id)
    .map((r) => [r.fields.server, r.fields.reason]);
