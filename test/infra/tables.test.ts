// The compiled template creates at deploy time exactly the tables the store uses, so no table is
// created at run time in Azure (or forgotten) and analysts' read grants cover them.
import { describe, expect, it } from 'vitest';
import { TABLES } from '../../src/store';
import { mainTemplate, resourcesOfType } from './arm';

describe('table names', () => {
  it('the tableNames default lists every table the store uses, and no other', () => {
    const names = mainTemplate().parameters?.tableNames?.defaultValue;
    expect(Array.isArray(names)).toBe(true);
    expect([...(names as string[])].sort()).toEqual(Object.values(TABLES).sort());
  });

  it('one table resource per name, named prefix + name', () => {
    const tables = resourcesOfType('Microsoft.Storage/storageAccounts/tableServices/tables');
    expect(tables).toHaveLength(1);
    const { resource } = tables[0]!;
    expect(resource.copy).toMatchObject({ count: "[length(parameters('tableNames'))]" });
    expect(resource.name).toContain("format('{0}{1}', parameters('tablePrefix'), parameters('tableNames')[copyIndex()])");
  });
});
