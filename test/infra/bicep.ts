// Reads the Bicep under infra/ with the tree-sitter-bicep grammar (the Bicep CLI cannot be
// installed here) and evaluates the parts of it the infra tests ask about: app settings, role
// definition ids, alert queries, parameters. The evaluator is deliberately small: literals,
// objects, arrays, vars, string interpolation, member/subscript access, loops, and parameters
// that a module declaration in another file passes. Anything else stays `Unknown` with its
// source text, so a test can still say what it could not resolve.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Language, Parser } from 'web-tree-sitter';
import type { Node, Tree } from 'web-tree-sitter';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const INFRA_DIR = path.join(REPO_ROOT, 'infra');
const GRAMMAR = path.join(REPO_ROOT, 'node_modules', 'tree-sitter-bicep', 'tree-sitter-bicep.wasm');

let parserPromise: Promise<Parser> | undefined;

export function bicepParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    await Parser.init();
    const language = await Language.load(GRAMMAR);
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return parserPromise;
}

export async function parseBicep(text: string): Promise<Tree> {
  const tree = (await bicepParser()).parse(text);
  if (!tree) throw new Error('tree-sitter returned no tree');
  return tree;
}

export interface SyntaxProblem {
  readonly kind: 'ERROR' | 'MISSING' | 'NEWLINE_IN_STRING';
  /** 1-based line and column where the problem node starts, and the line where it ends. */
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly text: string;
}

/**
 * Every ERROR node and every MISSING (parser-inserted) node, in source order; plus one thing the
 * grammar accepts but Bicep does not: a line break inside a single-quoted (not triple-quoted)
 * string, which is also what an unterminated string turns into.
 */
export function syntaxProblems(root: Node): SyntaxProblem[] {
  const problems: SyntaxProblem[] = [];
  const at = (node: Node, kind: SyntaxProblem['kind'], text: string): SyntaxProblem => ({
    kind,
    line: node.startPosition.row + 1,
    column: node.startPosition.column + 1,
    endLine: node.endPosition.row + 1,
    text,
  });
  const visit = (node: Node): void => {
    if (node.isMissing) problems.push(at(node, 'MISSING', `missing ${node.type}`));
    else if (node.isError) problems.push(at(node, 'ERROR', node.text.split('\n')[0]!.slice(0, 60)));
    else if (node.type === 'string' && node.children[0]?.type === "'" && node.text.includes('\n')) {
      problems.push(at(node, 'NEWLINE_IN_STRING', node.text.split('\n')[0]!.slice(0, 60)));
    }
    for (const child of node.children) visit(child);
  };
  visit(root);
  return problems;
}

export function formatProblems(file: string, problems: readonly SyntaxProblem[]): string[] {
  return problems.map((p) => {
    const lines = p.endLine > p.line ? `${p.line}-${p.endLine}` : `${p.line}`;
    return `${file}:${lines}:${p.column} ${p.kind} ${JSON.stringify(p.text)}`;
  });
}

// ------------------------------------------------------------------ files and declarations

export interface BicepFile {
  /** Path relative to the repository root, with forward slashes. */
  readonly rel: string;
  readonly abs: string;
  readonly text: string;
  readonly root: Node;
}

export function listBicepFiles(dir = INFRA_DIR): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listBicepFiles(full));
    else if (entry.name.endsWith('.bicep')) found.push(full);
  }
  return found.sort();
}

export async function loadBicepFiles(): Promise<BicepFile[]> {
  const files: BicepFile[] = [];
  for (const abs of listBicepFiles()) {
    const text = readFileSync(abs, 'utf8');
    const tree = await parseBicep(text);
    files.push({ abs, rel: path.relative(REPO_ROOT, abs).split(path.sep).join('/'), text, root: tree.rootNode });
  }
  return files;
}

/** The identifier a declaration names (`param x`, `var x`, `resource x`, `module x`, `output x`). */
function declaredName(node: Node): string {
  const id = node.namedChildren.find((c) => c.type === 'identifier');
  if (!id) throw new Error(`no name in ${node.type} at line ${node.startPosition.row + 1}`);
  return id.text;
}

/** The value expression of a declaration: what follows its `=`. */
function valueAfterEquals(node: Node): Node | undefined {
  const children = node.children;
  const eq = children.findIndex((c) => c.type === '=');
  if (eq < 0) return undefined;
  return children.slice(eq + 1).find((c) => c.isNamed);
}

export interface ParamDecl {
  readonly name: string;
  readonly node: Node;
  readonly defaultValue: Node | undefined;
  /** Decorator calls by name, e.g. `secure`, `metadata`, `description`. */
  readonly decorators: ReadonlyMap<string, Node>;
}

export interface ResourceDecl {
  readonly symbol: string;
  /** `Microsoft.Web/sites@2024-04-01` */
  readonly typeWithVersion: string;
  readonly type: string;
  readonly apiVersion: string;
  readonly existing: boolean;
  readonly node: Node;
  readonly body: Node;
}

export interface ModuleDecl {
  readonly symbol: string;
  /** The module file, relative to the repository root. */
  readonly target: string;
  readonly node: Node;
  readonly body: Node;
}

function decoratorsOf(node: Node): Map<string, Node> {
  const map = new Map<string, Node>();
  let prev = node.previousNamedSibling;
  while (prev?.type === 'comment') prev = prev.previousNamedSibling;
  if (prev?.type !== 'decorators') return map;
  for (const decorator of prev.namedChildren) {
    const call = decorator.namedChildren[0];
    if (!call) continue;
    // `@sys.description(...)` parses as a member expression callee; keep the last name.
    const callee = call.type === 'call_expression' ? call.namedChildren[0] : call;
    const name = callee?.text.split('.').pop();
    if (name) map.set(name, call);
  }
  return map;
}

export function params(file: BicepFile): Map<string, ParamDecl> {
  const map = new Map<string, ParamDecl>();
  for (const node of file.root.namedChildren.filter((n) => n.type === 'parameter_declaration')) {
    const name = declaredName(node);
    map.set(name, { name, node, defaultValue: valueAfterEquals(node), decorators: decoratorsOf(node) });
  }
  return map;
}

export function variables(file: BicepFile): Map<string, Node> {
  const map = new Map<string, Node>();
  for (const node of file.root.namedChildren.filter((n) => n.type === 'variable_declaration')) {
    const value = valueAfterEquals(node);
    if (value) map.set(declaredName(node), value);
  }
  return map;
}

export function resources(file: BicepFile): ResourceDecl[] {
  return file.root.namedChildren
    .filter((n) => n.type === 'resource_declaration')
    .map((node) => {
      const typeNode = node.namedChildren.find((c) => c.type === 'string');
      const typeWithVersion = typeNode ? stringLiteral(typeNode) ?? '' : '';
      const [type = '', apiVersion = ''] = typeWithVersion.split('@');
      const body = valueAfterEquals(node);
      if (!body) throw new Error(`${file.rel}: resource without body at line ${node.startPosition.row + 1}`);
      return {
        symbol: declaredName(node),
        typeWithVersion,
        type,
        apiVersion,
        existing: node.children.some((c) => c.type === 'existing'),
        node,
        body,
      };
    });
}

export function modules(file: BicepFile): ModuleDecl[] {
  return file.root.namedChildren
    .filter((n) => n.type === 'module_declaration')
    .map((node) => {
      const pathNode = node.namedChildren.find((c) => c.type === 'string');
      const relPath = pathNode ? stringLiteral(pathNode) ?? '' : '';
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file.rel), relPath));
      const body = valueAfterEquals(node);
      if (!body) throw new Error(`${file.rel}: module without body at line ${node.startPosition.row + 1}`);
      return { symbol: declaredName(node), target, node, body };
    });
}

/** A string node without interpolation, decoded; undefined when it interpolates. */
export function stringLiteral(node: Node): string | undefined {
  if (node.type !== 'string') return undefined;
  let out = '';
  for (const part of node.namedChildren) {
    if (part.type === 'string_content') out += part.text;
    else if (part.type === 'escape_sequence') out += decodeEscape(part.text);
    else return undefined;
  }
  return out;
}

function decodeEscape(text: string): string {
  switch (text) {
    case "\\'":
      return "'";
    case '\\\\':
      return '\\';
    case '\\n':
      return '\n';
    case '\\r':
      return '\r';
    case '\\t':
      return '\t';
    case '\\$':
      return '$';
    default: {
      const unicode = /^\\u\{([0-9a-fA-F]+)\}$/.exec(text);
      return unicode ? String.fromCodePoint(parseInt(unicode[1]!, 16)) : text;
    }
  }
}

// ------------------------------------------------------------------ evaluation

/** A value the evaluator could not work out; `text` is the Bicep source it stands for. */
export class Unknown {
  constructor(readonly text: string) {}
  toString(): string {
    return `<${this.text}>`;
  }
}

export type Value = string | number | boolean | null | Unknown | Value[] | { [key: string]: Value };

export function isObject(v: unknown): v is { [key: string]: Value } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Unknown);
}

type Scope = ReadonlyMap<string, Value>;

/** Evaluates expressions of one file of a set; parameters resolve through the calling modules. */
export class Evaluator {
  private readonly vars: Map<string, Node>;
  private readonly params: Map<string, ParamDecl>;
  private readonly varCache = new Map<string, Value>();

  constructor(
    readonly file: BicepFile,
    private readonly all: readonly BicepFile[],
    private readonly evaluators: Map<string, Evaluator> = new Map(),
  ) {
    this.vars = variables(file);
    this.params = params(file);
    evaluators.set(file.rel, this);
  }

  private evaluatorFor(file: BicepFile): Evaluator {
    return this.evaluators.get(file.rel) ?? new Evaluator(file, this.all, this.evaluators);
  }

  /** A parameter's value: the default, else the single value every calling module passes. */
  param(name: string): Value {
    const decl = this.params.get(name);
    if (!decl) return new Unknown(name);
    const passed: Value[] = [];
    for (const caller of this.all) {
      for (const mod of modules(caller)) {
        if (mod.target !== this.file.rel) continue;
        const evaluator = this.evaluatorFor(caller);
        for (const instance of evaluator.instances(mod.body)) {
          const given = isObject(instance) && isObject(instance.params) ? instance.params[name] : undefined;
          if (given !== undefined) passed.push(given);
        }
      }
    }
    const distinct = new Map(passed.map((v) => [JSON.stringify(v), v]));
    if (distinct.size === 1) return [...distinct.values()][0]!;
    if (distinct.size === 0 && decl.defaultValue) return this.evaluate(decl.defaultValue);
    return new Unknown(name);
  }

  /**
   * The evaluated bodies of a resource or module: one per loop element (a loop over something
   * unknown yields one body with the loop variables unknown). Conditions are ignored.
   */
  instances(body: Node, scope: Scope = new Map()): Value[] {
    if (body.type === 'for_statement') {
      const { collection, itemName, indexName, inner } = this.forParts(body);
      const items = this.evaluate(collection, scope);
      const list: Value[] = Array.isArray(items) ? items : [new Unknown(itemName)];
      return list.flatMap((item, index) => {
        const s = new Map(scope);
        s.set(itemName, item);
        if (indexName) s.set(indexName, Array.isArray(items) ? index : new Unknown(indexName));
        return this.instances(inner, s);
      });
    }
    if (body.type === 'if_statement') {
      const inner = body.namedChildren[body.namedChildren.length - 1];
      return inner ? this.instances(inner, scope) : [];
    }
    return [this.evaluate(body, scope)];
  }

  private forParts(node: Node): { collection: Node; itemName: string; indexName?: string; inner: Node } {
    const named = node.namedChildren;
    const head = named[0];
    const collection = named[1];
    const inner = named[named.length - 1];
    if (!head || !collection || !inner) throw new Error(`${this.file.rel}: unreadable for at line ${node.startPosition.row + 1}`);
    if (head.type === 'for_loop_parameters') {
      const item = head.namedChildren.find((c) => c.type === 'loop_variable');
      const index = head.namedChildren.find((c) => c.type === 'loop_enumerator');
      return { collection, itemName: item?.text ?? '?', indexName: index?.text, inner };
    }
    return { collection, itemName: head.text, inner };
  }

  evaluate(node: Node, scope: Scope = new Map()): Value {
    switch (node.type) {
      case 'string': {
        let out = '';
        let known = true;
        for (const part of node.namedChildren) {
          if (part.type === 'string_content') out += part.text;
          else if (part.type === 'escape_sequence') out += decodeEscape(part.text);
          else if (part.type === 'interpolation') {
            const inner = part.namedChildren[0];
            const v = inner ? this.evaluate(inner, scope) : new Unknown('');
            if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out += String(v);
            else {
              known = false;
              out += `\${${inner?.text ?? ''}}`;
            }
          }
        }
        return known ? out : new Unknown(node.text);
      }
      case 'number':
        return Number(node.text);
      case 'boolean':
        return node.text === 'true';
      case 'null':
        return null;
      case 'parenthesized_expression': {
        const inner = node.namedChildren[0];
        return inner ? this.evaluate(inner, scope) : new Unknown(node.text);
      }
      case 'array':
        return node.namedChildren.filter((c) => c.type !== 'comment').map((c) => this.evaluate(c, scope));
      case 'for_statement':
        return this.instances(node, scope);
      case 'object': {
        const out: { [key: string]: Value } = {};
        for (const prop of node.namedChildren.filter((c) => c.type === 'object_property')) {
          const [keyNode] = prop.namedChildren;
          const valueNode = prop.namedChildren[prop.namedChildren.length - 1];
          if (!keyNode || !valueNode || keyNode === valueNode) continue;
          const key = keyNode.type === 'string' ? this.evaluate(keyNode, scope) : keyNode.text;
          out[typeof key === 'string' ? key : keyNode.text] = this.evaluate(valueNode, scope);
        }
        return out;
      }
      case 'identifier': {
        const name = node.text;
        if (scope.has(name)) return scope.get(name)!;
        if (this.vars.has(name)) {
          if (!this.varCache.has(name)) {
            this.varCache.set(name, new Unknown(name)); // guards against cycles
            this.varCache.set(name, this.evaluate(this.vars.get(name)!));
          }
          return this.varCache.get(name)!;
        }
        if (this.params.has(name)) return this.param(name);
        return new Unknown(name);
      }
      case 'member_expression': {
        const [objectNode, propertyNode] = [node.namedChildren[0], node.namedChildren[node.namedChildren.length - 1]];
        if (!objectNode || !propertyNode) return new Unknown(node.text);
        const object = this.evaluate(objectNode, scope);
        if (isObject(object) && propertyNode.text in object) return object[propertyNode.text]!;
        return new Unknown(node.text);
      }
      case 'subscript_expression': {
        const [objectNode, indexNode] = node.namedChildren;
        if (!objectNode || !indexNode) return new Unknown(node.text);
        const object = this.evaluate(objectNode, scope);
        const index = this.evaluate(indexNode, scope);
        if (Array.isArray(object) && typeof index === 'number' && index < object.length) return object[index]!;
        if (isObject(object) && typeof index === 'string' && index in object) return object[index]!;
        return new Unknown(node.text);
      }
      case 'call_expression': {
        const callee = node.namedChildren[0]?.text;
        const args = (node.namedChildren[1]?.namedChildren ?? []).map((a) => this.evaluate(a, scope));
        if (callee === 'subscriptionResourceId' && args.every((a) => typeof a === 'string')) {
          // Enough for the tests: the resource type path and names, without a subscription id.
          const [type, ...names] = args as string[];
          return `/subscriptions/{subscriptionId}/providers/${type}/${names.join('/')}`;
        }
        if (callee === 'union' && args.length > 0 && args.every((a) => isObject(a))) {
          return Object.assign({}, ...(args as { [key: string]: Value }[]));
        }
        if (callee === 'string' && args.length === 1 && (typeof args[0] === 'number' || typeof args[0] === 'boolean')) return String(args[0]);
        return new Unknown(node.text);
      }
      default:
        return new Unknown(node.text);
    }
  }
}

/** Evaluators for a set of files, sharing one cache so module parameters resolve across files. */
export function evaluators(files: readonly BicepFile[]): Map<string, Evaluator> {
  const shared = new Map<string, Evaluator>();
  for (const file of files) if (!shared.has(file.rel)) new Evaluator(file, files, shared);
  return shared;
}

/** Every resource instance of a type across the files, evaluated. */
export function resourceInstances(
  files: readonly BicepFile[],
  type: string,
): { file: BicepFile; resource: ResourceDecl; value: { [key: string]: Value } }[] {
  const evals = evaluators(files);
  const out: { file: BicepFile; resource: ResourceDecl; value: { [key: string]: Value } }[] = [];
  for (const file of files) {
    for (const resource of resources(file)) {
      if (resource.type.toLowerCase() !== type.toLowerCase()) continue;
      for (const value of evals.get(file.rel)!.instances(resource.body)) {
        if (isObject(value)) out.push({ file, resource, value });
      }
    }
  }
  return out;
}

/** Walks a value by property names; undefined when a step is missing or not an object. */
export function dig(value: unknown, ...keys: string[]): Value | undefined {
  let v = value as Value | undefined;
  for (const key of keys) {
    if (!isObject(v)) return undefined;
    v = v[key];
  }
  return v;
}

/** The object a resource or module body declares, inside any `[for ...]` and `if (...)`. */
export function innerBody(body: Node): Node {
  let node = body;
  while (node.type === 'for_statement' || node.type === 'if_statement') {
    const last = node.namedChildren[node.namedChildren.length - 1];
    if (!last) break;
    node = last;
  }
  return node;
}

/**
 * Every resource declaration of a type across the files, evaluated once without expanding loops
 * (loop variables stay unknown), so a loop over an empty list is still checked.
 */
export function resourceTemplates(
  files: readonly BicepFile[],
  type: string,
): { file: BicepFile; resource: ResourceDecl; value: { [key: string]: Value } }[] {
  const evals = evaluators(files);
  const out: { file: BicepFile; resource: ResourceDecl; value: { [key: string]: Value } }[] = [];
  for (const file of files) {
    for (const resource of resources(file)) {
      if (resource.type.toLowerCase() !== type.toLowerCase()) continue;
      const value = evals.get(file.rel)!.evaluate(innerBody(resource.body));
      if (isObject(value)) out.push({ file, resource, value });
    }
  }
  return out;
}
