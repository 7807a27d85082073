// Every .bicep file under infra/ parses with the tree-sitter-bicep grammar: no ERROR and no
// MISSING nodes. Syntax only (the Bicep CLI, which also checks types and resource schemas, runs in
// .github/workflows/infra.yml where it can be installed).

import { describe, expect, it } from 'vitest';
import { formatProblems, listBicepFiles, loadBicepFiles, parseBicep, syntaxProblems } from './bicep';

describe('Bicep syntax (tree-sitter-bicep)', () => {
  it('finds the Bicep files', () => {
    const names = listBicepFiles().map((f) => f.replace(/\\/g, '/').replace(/^.*\/infra\//, 'infra/'));
    expect(names).toContain('infra/main.bicep');
    expect(names).toContain('infra/modules/resources.bicep');
    expect(names).toContain('infra/modules/alerts.bicep');
  });

  it('parses every .bicep file without ERROR or MISSING nodes', async () => {
    const files = await loadBicepFiles();
    const problems = files.flatMap((f) => formatProblems(f.rel, syntaxProblems(f.root)));
    expect(problems).toEqual([]);
  });

  it('reports a missing closing brace with its line', async () => {
    const broken = ["param name string", "resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {", '  name: name', "  location: 'x'", ''].join('\n');
    const problems = syntaxProblems((await parseBicep(broken)).rootNode);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.some((p) => p.kind === 'MISSING' || p.kind === 'ERROR')).toBe(true);
    expect(problems.every((p) => p.line >= 2 && p.line <= 5)).toBe(true);
  });

  it('reports an unterminated string from the line it starts on', async () => {
    const broken = ["var ok = 'fine'", "var bad = 'unterminated", "output o string = ok", ''].join('\n');
    const problems = syntaxProblems((await parseBicep(broken)).rootNode);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]!.line).toBe(2);
    expect(formatProblems('snippet.bicep', problems)[0]).toMatch(/^snippet\.bicep:2-\d+:\d+ (ERROR|MISSING|NEWLINE_IN_STRING) /);
  });

  it('reports a keyword typo in a declaration', async () => {
    const broken = ['param a string', "resourse b 'Microsoft.Web/sites@2024-04-01' = {", "  name: 'b'", '}', ''].join('\n');
    const problems = syntaxProblems((await parseBicep(broken)).rootNode);
    expect(problems.some((p) => p.line <= 2 && p.endLine >= 2)).toBe(true);
    expect(formatProblems('snippet.bicep', problems)[0]).toMatch(/^snippet\.bicep:1-2:\d+ ERROR /);
  });

  it('accepts a well-formed snippet (no false alarms)', async () => {
    const fine = ["@secure()", "param key string", "var q = '''", 'traces | take 1', "'''", "output o string = '${key}-${q}'", ''].join('\n');
    expect(syntaxProblems((await parseBicep(fine)).rootNode)).toEqual([]);
  });
});
