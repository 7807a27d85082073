// What the Bicep compiler would reject and tree-sitter cannot see, checked on the syntax tree:
// undeclared names (typos), unknown functions, module calls that do not match the module's
// parameters or outputs, and outputs that would leak a secure parameter into deployment history.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Node } from 'web-tree-sitter';
import type { BicepFile } from './bicep';
import { innerBody, loadBicepFiles, modules, params, parseBicep, REPO_ROOT } from './bicep';

/** Bicep functions the files may call (the documented built-ins; extend when using another). */
const BUILTIN_FUNCTIONS = new Set([
  'any', 'array', 'base64', 'base64ToString', 'bool', 'concat', 'contains', 'dataUri', 'deployment', 'empty',
  'endsWith', 'environment', 'filter', 'first', 'format', 'guid', 'indexOf', 'int', 'intersection', 'join',
  'last', 'lastIndexOf', 'length', 'listKeys', 'loadFileAsBase64', 'loadJsonContent', 'loadTextContent', 'managementGroup',
  'map', 'max', 'min', 'newGuid', 'padLeft', 'range', 'reduce', 'replace', 'resourceGroup', 'resourceId',
  'skip', 'sort', 'split', 'startsWith', 'string', 'subscription', 'subscriptionResourceId', 'substring',
  'take', 'tenant', 'tenantResourceId', 'toLower', 'toObject', 'toUpper', 'trim', 'union', 'uniqueString',
  'uri', 'uriComponent', 'uriComponentToString', 'utcNow', 'items', 'objectKeys', 'split', 'extensionResourceId',
]);
const NAMESPACES = new Set(['az', 'sys']);
const DECLARATIONS = new Set([
  'parameter_declaration', 'variable_declaration', 'resource_declaration', 'module_declaration', 'output_declaration',
  'type_declaration', 'user_defined_function',
]);

function walk(node: Node, visit: (n: Node) => void): void {
  visit(node);
  for (const child of node.children) walk(child, visit);
}

/** Names a file declares: params, vars, resources, modules, types, functions, loop and lambda variables. */
function declaredNames(root: Node): Set<string> {
  const names = new Set<string>();
  for (const decl of root.namedChildren) {
    if (DECLARATIONS.has(decl.type) && decl.type !== 'output_declaration') {
      const id = decl.namedChildren.find((c) => c.type === 'identifier');
      if (id) names.add(id.text);
    }
  }
  walk(root, (n) => {
    if (n.type === 'loop_variable' || n.type === 'loop_enumerator') names.add(n.text);
    if (n.type === 'for_statement' && n.namedChildren[0]?.type === 'identifier') names.add(n.namedChildren[0].text);
    if (n.type === 'lambda_expression' && n.namedChildren[0]?.type === 'identifier') names.add(n.namedChildren[0].text);
  });
  return names;
}

interface NameUse {
  readonly name: string;
  readonly line: number;
  readonly kind: 'symbol' | 'function';
}

/** Identifiers used as values (not keys, declared names or decorators), and called functions. */
function nameUses(root: Node): NameUse[] {
  const uses: NameUse[] = [];
  const visit = (n: Node): void => {
    if (n.type === 'decorators' || n.type === 'type' || n.type === 'type_declaration') return;
    if (n.type === 'identifier') {
      const parent = n.parent;
      const line = n.startPosition.row + 1;
      const isFirstNamed = parent?.namedChildren[0]?.id === n.id;
      if (parent && DECLARATIONS.has(parent.type) && isFirstNamed) return; // declared name
      if (parent?.type === 'object_property' && isFirstNamed) return; // object key
      if (parent?.type === 'for_statement' && isFirstNamed) return; // loop variable
      if (parent?.type === 'lambda_expression' && isFirstNamed) return;
      if (parent?.type === 'call_expression' && isFirstNamed) {
        uses.push({ name: n.text, line, kind: 'function' });
        return;
      }
      if (parent?.type === 'member_expression' && isFirstNamed && NAMESPACES.has(n.text)) return;
      uses.push({ name: n.text, line, kind: 'symbol' });
      return;
    }
    for (const child of n.children) visit(child);
  };
  visit(root);
  return uses;
}

function undeclared(root: Node): string[] {
  const declared = declaredNames(root);
  return nameUses(root)
    .filter((u) => (u.kind === 'function' ? !BUILTIN_FUNCTIONS.has(u.name) && !declared.has(u.name) : !declared.has(u.name)))
    .map((u) => `line ${u.line}: ${u.kind} ${u.name}`);
}

let files: BicepFile[];

beforeAll(async () => {
  files = await loadBicepFiles();
});

describe('Bicep names and module wiring', () => {
  it('uses only declared names and known functions', () => {
    const problems = files.flatMap((f) => undeclared(f.root).map((p) => `${f.rel} ${p}`));
    expect(problems).toEqual([]);
  });

  it('catches a misspelt symbol and an unknown function (the check works)', async () => {
    const tree = await parseBicep(["param name string", "var a = nmae", "var b = toLowr(name)", "output o string = '${a}${b}'", ''].join('\n'));
    expect(undeclared(tree.rootNode)).toEqual(['line 2: symbol nmae', 'line 3: function toLowr']);
  });

  it('calls every module with parameters it declares, and every required one', () => {
    const problems: string[] = [];
    for (const file of files) {
      for (const mod of modules(file)) {
        const target = files.find((f) => f.rel === mod.target);
        if (!target) {
          problems.push(`${file.rel} ${mod.symbol}: ${mod.target} does not exist`);
          continue;
        }
        const declared = params(target);
        const paramsProp = innerBody(mod.body).namedChildren.find((c) => c.type === 'object_property' && c.namedChildren[0]?.text === 'params');
        const passedNode = paramsProp?.namedChildren[paramsProp.namedChildren.length - 1];
        const passed = new Set(
          (passedNode?.namedChildren ?? []).filter((c) => c.type === 'object_property').map((c) => c.namedChildren[0]!.text),
        );
        for (const name of passed) if (!declared.has(name)) problems.push(`${file.rel} ${mod.symbol}: passes ${name}, which ${mod.target} does not declare`);
        for (const decl of declared.values()) {
          if (!decl.defaultValue && !passed.has(decl.name)) problems.push(`${file.rel} ${mod.symbol}: does not pass required ${decl.name}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('reads only outputs that the modules declare', () => {
    const problems: string[] = [];
    for (const file of files) {
      const bySymbol = new Map(modules(file).map((m) => [m.symbol, m.target]));
      walk(file.root, (n) => {
        if (n.type !== 'member_expression') return;
        const m = /^(\w+)\.outputs\.(\w+)$/.exec(n.text);
        if (!m || !bySymbol.has(m[1]!)) return;
        const target = files.find((f) => f.rel === bySymbol.get(m[1]!));
        const outputs = new Set(
          (target?.root.namedChildren ?? []).filter((d) => d.type === 'output_declaration').map((d) => d.namedChildren.find((c) => c.type === 'identifier')!.text),
        );
        if (!outputs.has(m[2]!)) problems.push(`${file.rel}:${n.startPosition.row + 1} ${n.text}: no such output`);
      });
    }
    expect(problems).toEqual([]);
  });

  it('never puts a secure parameter into an output', () => {
    const problems: string[] = [];
    for (const file of files) {
      const secure = new Set([...params(file).values()].filter((p) => p.decorators.has('secure')).map((p) => p.name));
      for (const out of file.root.namedChildren.filter((d) => d.type === 'output_declaration')) {
        walk(out, (n) => {
          if (n.type === 'identifier' && secure.has(n.text)) problems.push(`${file.rel}:${n.startPosition.row + 1} output uses ${n.text}`);
        });
      }
    }
    expect(problems).toEqual([]);
  });

  it('refers only to module files that exist', () => {
    for (const file of files) for (const mod of modules(file)) expect(existsSync(path.join(REPO_ROOT, mod.target)), `${file.rel} → ${mod.target}`).toBe(true);
  });
});
