// One number for HTTP concurrency per instance: the Flex Consumption app's perInstanceConcurrency in
// the compiled template (followed through the module to the parameter's default) against the
// constant the local host uses (src/local/http-concurrency.ts).
import { describe, expect, it } from 'vitest';
import { HTTP_PER_INSTANCE_CONCURRENCY } from '../../src/local/http-concurrency';
import type { Json, TemplateScope } from './arm';
import { dig, resourcesOfType } from './arm';

/** A literal, or `[parameters('x')]` followed up through the modules to what is passed or to the default. */
function resolved(scope: TemplateScope, value: Json | undefined): Json | undefined {
  const param = typeof value === 'string' ? /^\[parameters\('(\w+)'\)\]$/.exec(value)?.[1] : undefined;
  if (!param) return value;
  if (scope.parent) return resolved(scope.parent, scope.passed[param]);
  return scope.template.parameters?.[param]?.defaultValue;
}

describe('HTTP concurrency per instance', () => {
  it('the Flex app sets perInstanceConcurrency to HTTP_PER_INSTANCE_CONCURRENCY', () => {
    const sites = resourcesOfType('Microsoft.Web/sites');
    expect(sites).toHaveLength(1);
    const { scope, resource } = sites[0]!;
    const value = dig(resource, 'properties', 'functionAppConfig', 'scaleAndConcurrency', 'triggers', 'http', 'perInstanceConcurrency');
    expect(value, 'functionAppConfig.scaleAndConcurrency.triggers.http.perInstanceConcurrency in infra/modules/resources.bicep').toBeDefined();
    expect(resolved(scope, value), 'the Bicep default (infra/main.bicep) and src/local/http-concurrency.ts must agree').toBe(HTTP_PER_INSTANCE_CONCURRENCY);
  });

  it('the parameter refuses a value below 1', () => {
    const sites = resourcesOfType('Microsoft.Web/sites');
    let scope: TemplateScope = sites[0]!.scope;
    while (scope.parent) scope = scope.parent;
    expect(scope.template.parameters?.httpPerInstanceConcurrency).toMatchObject({ type: 'int', minValue: 1 });
  });
});
