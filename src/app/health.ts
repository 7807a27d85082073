// The health route (getHealth in the route table): a key-free answer that names the service, so a tool (the demo, a load
// balancer, a person with curl) can tell a fleet-posture host from any other program on the port
// before it sends anything. It reads no storage and reveals nothing a collector cannot see.
import { ruleSetVersion } from '../rules/registry';
import type { PostureApp } from './create-app';
import { json, type ApiResponse } from './http-io';

/** The service's version, package.json's "version" (a test keeps them equal). */
export const SERVICE_VERSION = '0.1.0';

export function health(app: Pick<PostureApp, 'rules'>): ApiResponse {
  return json(200, { service: 'fleet-posture', version: SERVICE_VERSION, ruleSetVersion: ruleSetVersion(app.rules) });
}
