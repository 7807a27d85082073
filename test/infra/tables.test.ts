// The Bicep creates at deploy time exactly the tables the store uses, so no table is created at
// run time in Azure (or forgotten) and analysts' read grants cover them.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TABLES } from '../../src/store';

function bicepTableNames(): string[] {
  const text = readFileSync('infra/main.bicep', 'utf8');
  const block = /param tableNames array = \[([^\]]*)\]/.exec(text);
  if (!block) throw new Error('infra/main.bicep has no tableNames parameter with a default list');
  return [...block[1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
}

describe('table names', () => {
  it('the Bicep tableNames default lists every table the store uses, and no other', () => {
    expect(bicepTableNames().sort()).toEqual(Object.values(TABLES).sort());
  });
});
