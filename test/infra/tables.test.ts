// The compiled template creates at deploy time exactly the tables the store uses, so no table is
// created at run time in Azure (or forgotten) and analysts' read grants cover them.
import { describe, expect, it } from 'vitest';
import { TABLES } from '../../src/store';
import { mainTemplate, resourcesOfType, scopeWith } from './arm';

describe('table names', () => {
  it('are fixed in the template, not a parameter a deployer could edit', () => {
    expect(Object.keys(mainTemplate().parameters ?? {})).not.toContain('tableNames');
    const { template } = scopeWith((t) => resourcesOfType('Microsoft.Storage/storageAccounts/tableServices/tables').some((r) => r.scope.template === t));
    expect(Object.keys(template.parameters ?? {})).not.toContain('tableNames');
  });

  it('the tableNames variable lists every table the store uses, and no other', () => {
    const { template } = scopeWith((t) => Array.isArray(t.variables?.tableNames));
    expect([...(template.variables!.tableNames as string[])].sort()).toEqual(Object.values(TABLES).sort());
  });

  it('one table resource per name, named prefix + name', () => {
    const tables = resourcesOfType('Microsoft.Storage/storageAccounts/tableServices/tables');
    expect(tables).toHaveLength(1);
    const { resource } = tables[0]!;
    expect(resource.copy).toMatchObject({ count: "[length(variables('tableNames'))]" });
    expect(resource.name).toContain("format('{0}{1}', parameters('tablePrefix'), variables('tableNames')[copyIndex()])");
  });
});
