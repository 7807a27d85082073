// Role definition ids in the compiled template against the documented built-in role ids, the
// grants the function app's identity needs, and a principal type on every assignment.

import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ArmParameter, ArmResource, Json, TemplateScope } from './arm';
import { dig, isObject, referencesIn, REPO_ROOT, resolveVariable, resourcesOfType } from './arm';

/**
 * Built-in roles used here, name → id, as documented in Microsoft's "Azure built-in roles"
 * reference (learn.microsoft.com/azure/role-based-access-control/built-in-roles; sections Storage,
 * Monitor). Built-in role ids are the same in every tenant. Add a row, with its documented id,
 * before using another role.
 */
const DOCUMENTED_ROLES: Readonly<Record<string, string>> = {
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  'Storage Table Data Reader': '76199698-9eea-4c19-bc75-cec21354c6b6',
  'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
};

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const documentedIds = new Map(Object.entries(DOCUMENTED_ROLES).map(([name, id]) => [id, name]));
/** The kinds of principal a role assignment may name. */
const PRINCIPAL_TYPES = new Set(['User', 'Group', 'ServicePrincipal', 'ForeignGroup', 'Device']);

/** 'Storage Blob Data Owner' → 'storageBlobDataOwner', the key used in the Bicep `roles` var. */
function camel(name: string): string {
  const words = name.split(/\s+/);
  return words.map((w, i) => (i === 0 ? w.toLowerCase() : w[0]!.toUpperCase() + w.slice(1))).join('');
}

interface Assignment {
  readonly where: string;
  readonly scope: TemplateScope;
  readonly resource: ArmResource;
  readonly roleId: string | undefined;
}

/** The role id an expression names: `variables('roles').x`, or a parameter the caller fills with one. */
function roleIdOf(scope: TemplateScope, expression: Json | undefined): string | undefined {
  if (typeof expression !== 'string') return undefined;
  const viaVar = /variables\('roles'\)\.(\w+)/.exec(expression);
  if (viaVar) return String(dig(scope.template.variables, 'roles', viaVar[1]!));
  const viaParam = /parameters\('(\w+)'\)/.exec(expression);
  if (viaParam && scope.parent) return roleIdOf(scope.parent, scope.passed[viaParam[1]!]);
  return undefined;
}

/** The principal types an assignment can end up with: a literal, or a parameter's allowed values. */
function principalTypesOf(scope: TemplateScope, value: Json | undefined): string[] | undefined {
  if (typeof value !== 'string') return undefined;
  if (!value.startsWith('[')) return [value];
  const m = /^\[parameters\('(\w+)'\)(\[copyIndex\(\)\]\.(\w+))?\]$/.exec(value);
  const param: ArmParameter | undefined = m ? scope.template.parameters?.[m[1]!] : undefined;
  if (!param) return undefined;
  if (!m![2]) return param.allowedValues?.map(String);
  // An array of a user-defined type: the allowed values of that property of the item type.
  const ref = String(dig(param, 'items', '$ref') ?? '').replace('#/definitions/', '');
  const allowed = dig((scope.template as unknown as { definitions?: Json }).definitions, ref, 'properties', m![3]!, 'allowedValues');
  return Array.isArray(allowed) ? allowed.map(String) : undefined;
}

let assignments: Assignment[];

beforeAll(() => {
  assignments = resourcesOfType('Microsoft.Authorization/roleAssignments').map(({ scope, resource }) => ({
    where: `${scope.path} ${resource.name}`,
    scope,
    resource,
    roleId: roleIdOf(scope, dig(resource, 'properties', 'roleDefinitionId'))?.toLowerCase(),
  }));
});

describe('role definition ids', () => {
  it('names each role in the Bicep `roles` table after its documented id', () => {
    const { scope } = assignments[0]!;
    const roles = scope.template.variables?.roles;
    expect(isObject(roles), 'resources.bicep declares var roles').toBe(true);
    const wrong: string[] = [];
    for (const [key, id] of Object.entries(roles as Record<string, Json>)) {
      const name = Object.keys(DOCUMENTED_ROLES).find((n) => camel(n) === key);
      if (!name) wrong.push(`${key}: not in the documented table`);
      else if (DOCUMENTED_ROLES[name] !== id) wrong.push(`${key}: ${String(id)} is not the documented ${DOCUMENTED_ROLES[name]}`);
    }
    expect(wrong).toEqual([]);
  });

  it('uses no GUID in any Bicep file other than a documented role id', () => {
    const dir = path.join(REPO_ROOT, 'infra');
    const files = ['main.bicep', ...readdirSync(path.join(dir, 'modules')).map((f) => path.join('modules', f))].filter((f) => f.endsWith('.bicep'));
    const stray = files.flatMap((f) =>
      [...readFileSync(path.join(dir, f), 'utf8').matchAll(GUID)].map((m) => m[0].toLowerCase()).filter((id) => !documentedIds.has(id)).map((id) => `${f}: ${id}`),
    );
    expect(stray).toEqual([]);
  });

  it('resolves every role assignment to a documented role id', () => {
    expect(assignments.length).toBeGreaterThanOrEqual(4);
    const unresolved = assignments.filter((a) => !a.roleId || !documentedIds.has(a.roleId)).map((a) => `${a.where}: ${a.roleId ?? 'unresolved'}`);
    expect(unresolved).toEqual([]);
  });

  it('names the principal type on every assignment, so a principal that is still replicating resolves', () => {
    const problems: string[] = [];
    for (const a of assignments) {
      const types = principalTypesOf(a.scope, dig(a.resource, 'properties', 'principalType'));
      if (!types || types.length === 0) problems.push(`${a.where}: no principalType`);
      else for (const t of types) if (!PRINCIPAL_TYPES.has(t)) problems.push(`${a.where}: ${t} is not a principal type`);
    }
    expect(problems).toEqual([]);
  });
});

describe('grants to the function app identity', () => {
  const expected: [role: string, scopeType: string][] = [
    ['Storage Blob Data Owner', 'Microsoft.Storage/storageAccounts'],
    ['Storage Table Data Contributor', 'Microsoft.Storage/storageAccounts'],
    ['Monitoring Metrics Publisher', 'Microsoft.Insights/components'],
  ];

  for (const [role, scopeType] of expected) {
    it(`${role} on the ${scopeType.split('/').pop()} resource, as a service principal`, () => {
      const match = assignments.find(
        (a) =>
          a.roleId === DOCUMENTED_ROLES[role] &&
          referencesIn(a.scope, dig(a.resource, 'properties', 'principalId')).some(
            (r) => r.resource.type === 'Microsoft.ManagedIdentity/userAssignedIdentities' && r.property === 'principalId',
          ) &&
          String(a.resource.scope).startsWith(`[resourceId('${scopeType}'`),
      );
      expect(match, `${role} for the app identity on ${scopeType}`).toBeDefined();
      expect(dig(match!.resource, 'properties', 'principalType')).toBe('ServicePrincipal');
    });
  }

  it('grants it no other role: nothing uses queues (HTTP and timer triggers only), so no queue role', () => {
    const granted = assignments
      .filter((a) =>
        referencesIn(a.scope, dig(a.resource, 'properties', 'principalId')).some((r) => r.resource.type === 'Microsoft.ManagedIdentity/userAssignedIdentities' && r.property === 'principalId'),
      )
      .map((a) => documentedIds.get(a.roleId ?? '') ?? a.roleId);
    expect(granted.sort()).toEqual(expected.map(([role]) => role).sort());
  });

  it('names every assignment with guid(...) so a redeploy finds the same one', () => {
    for (const a of assignments) expect(a.resource.name, a.where).toMatch(/^\[guid\(/);
  });
});

describe('grants to people', () => {
  const onIdentity = (a: Assignment): boolean =>
    referencesIn(a.scope, dig(a.resource, 'properties', 'principalId')).some((r) => r.resource.type === 'Microsoft.ManagedIdentity/userAssignedIdentities');

  it('no one but the app identity holds a role on the whole storage account (it would read ServerKeys)', () => {
    const others = assignments.filter((a) => String(a.resource.scope).startsWith("[resourceId('Microsoft.Storage/storageAccounts'") && !onIdentity(a));
    expect(others.map((a) => a.where)).toEqual([]);
  });

  it('the deployer (principalId) reads the app tables table by table, as tableReaders do, and not ServerKeys', () => {
    const { scope, resource } = resourcesOfType('Microsoft.Resources/deployments').find(({ resource: r }) => String(r.name).includes('table-readers'))!;
    const readers = resolveVariable(scope, dig(resource, 'properties', 'parameters', 'readers', 'value'));
    expect(String(readers)).toContain("filter(parameters('tableReaders'), lambda('r', or(empty(parameters('principalId')), not(equals(toLower(lambdaVariables('r').id), toLower(parameters('principalId')))))))");
    expect(String(readers)).toContain("createObject('id', parameters('principalId'), 'type', parameters('principalType'))");
    expect(String(resource.condition)).toContain("not(equals(variables('tableNames')[copyIndex()], 'ServerKeys'))");
    const grants = assignments.filter((a) => a.scope.path === `${scope.path} > ${resource.name}`);
    expect(grants.map((a) => [a.roleId, String(a.resource.scope)])).toEqual([[DOCUMENTED_ROLES['Storage Table Data Reader'], "[resourceId('Microsoft.Storage/storageAccounts/tableServices/tables', parameters('storageAccountName'), 'default', parameters('tableName'))]"]]);
  });
});
