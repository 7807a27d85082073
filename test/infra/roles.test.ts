// Role definition ids in the Bicep against the documented built-in role ids, and the grants the
// function app's identity needs.

import { beforeAll, describe, expect, it } from 'vitest';
import type { BicepFile } from './bicep';
import { dig, isObject, loadBicepFiles, resourceTemplates, variables, Evaluator } from './bicep';

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

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ROLE_DEFINITION_ID = /\/providers\/Microsoft\.Authorization\/roleDefinitions\/([0-9a-f-]{36})$/i;
const documentedIds = new Map(Object.entries(DOCUMENTED_ROLES).map(([name, id]) => [id, name]));

/** 'Storage Blob Data Owner' → 'storageBlobDataOwner', the key used in the Bicep `roles` var. */
function camel(name: string): string {
  const words = name.split(/\s+/);
  return words.map((w, i) => (i === 0 ? w.toLowerCase() : w[0]!.toUpperCase() + w.slice(1))).join('');
}

let files: BicepFile[];
let assignments: { where: string; roleId: string | undefined; principal: string; scope: string; principalType: unknown }[];

beforeAll(async () => {
  files = await loadBicepFiles();
  assignments = resourceTemplates(files, 'Microsoft.Authorization/roleAssignments').map(({ file, resource, value }) => {
    const id = dig(value, 'properties', 'roleDefinitionId');
    return {
      where: `${file.rel} ${resource.symbol}`,
      roleId: typeof id === 'string' ? ROLE_DEFINITION_ID.exec(id)?.[1]?.toLowerCase() : undefined,
      principal: String(dig(value, 'properties', 'principalId')),
      scope: String(value.scope),
      principalType: dig(value, 'properties', 'principalType'),
    };
  });
});

describe('role definition ids', () => {
  it('names each role in the Bicep `roles` table after its documented id', () => {
    const file = files.find((f) => f.rel === 'infra/modules/resources.bicep')!;
    const rolesNode = variables(file).get('roles');
    expect(rolesNode, 'resources.bicep declares var roles').toBeDefined();
    const roles = new Evaluator(file, files).evaluate(rolesNode!);
    expect(isObject(roles)).toBe(true);
    const wrong: string[] = [];
    for (const [key, id] of Object.entries(roles as Record<string, unknown>)) {
      const name = Object.keys(DOCUMENTED_ROLES).find((n) => camel(n) === key);
      if (!name) wrong.push(`${key}: not in the documented table`);
      else if (DOCUMENTED_ROLES[name] !== id) wrong.push(`${key}: ${String(id)} is not the documented ${DOCUMENTED_ROLES[name]}`);
    }
    expect(wrong).toEqual([]);
  });

  it('uses no GUID in any Bicep file other than a documented role id', () => {
    const stray: string[] = [];
    for (const file of files) {
      for (const node of file.root.descendantsOfType('string_content')) {
        const text = node.text.trim();
        if (GUID.test(text) && !documentedIds.has(text.toLowerCase())) stray.push(`${file.rel}:${node.startPosition.row + 1} ${text}`);
      }
    }
    expect(stray).toEqual([]);
  });

  it('resolves every role assignment to a documented role id', () => {
    expect(assignments.length).toBeGreaterThanOrEqual(4);
    const unresolved = assignments.filter((a) => !a.roleId || !documentedIds.has(a.roleId)).map((a) => `${a.where}: ${a.roleId ?? 'unresolved'}`);
    expect(unresolved).toEqual([]);
  });
});

describe('grants to the function app identity', () => {
  const appIdentity = 'identity.properties.principalId';
  const expected: [role: string, scope: string][] = [
    ['Storage Blob Data Owner', 'storage'],
    ['Storage Queue Data Contributor', 'storage'],
    ['Storage Table Data Contributor', 'storage'],
    ['Monitoring Metrics Publisher', 'appInsights'],
  ];

  for (const [role, scope] of expected) {
    it(`${role} on ${scope}`, () => {
      const match = assignments.find(
        (a) => a.roleId === DOCUMENTED_ROLES[role] && a.principal === `<${appIdentity}>` && a.scope === `<${scope}>`,
      );
      expect(match, `${role} for the app identity on ${scope}`).toBeDefined();
      expect(match!.principalType).toBe('ServicePrincipal');
    });
  }

  it('names every assignment with guid(...) so a redeploy finds the same one', () => {
    for (const { resource, value } of resourceTemplates(files, 'Microsoft.Authorization/roleAssignments')) {
      expect(String(value.name), resource.symbol).toMatch(/^<guid\(/);
    }
  });
});
