// The infra tests read the ARM template the real Bicep CLI compiles from infra/main.bicep
// (scripts/infra-build.cjs): the root template and every nested module deployment, with the
// values each module is given. Expressions stay ARM expression strings ("[parameters('x')]").
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { compiledTemplate } from '../../scripts/infra-build.cjs';
import { ROOT, installedTools } from '../../scripts/tool-paths.cjs';

export const REPO_ROOT = ROOT;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface ArmParameter {
  readonly type: string;
  readonly defaultValue?: Json;
  readonly allowedValues?: Json[];
  readonly maxLength?: number;
  readonly minLength?: number;
  readonly metadata?: JsonObject;
}

export interface ArmResource extends JsonObject {
  type: string;
  apiVersion: string;
  name: string;
}

export interface ArmTemplate {
  readonly parameters?: Record<string, ArmParameter>;
  readonly variables?: JsonObject;
  readonly resources: ArmResource[] | Record<string, ArmResource>;
  readonly outputs?: JsonObject;
  readonly functions?: Json;
}

/** One template: the root, or a module's nested template with what its caller passes. */
export interface TemplateScope {
  /** 'main', then 'main > fleet-posture-resources > ...'. */
  readonly path: string;
  readonly template: ArmTemplate;
  /** The parameter values the caller passes (the deployment's properties.parameters), by name. */
  readonly passed: Readonly<Record<string, Json>>;
  readonly parent?: TemplateScope;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function dig(v: unknown, ...keys: string[]): Json | undefined {
  let cur: unknown = v;
  for (const k of keys) {
    if (!isObject(cur)) return undefined;
    cur = cur[k];
  }
  return cur as Json | undefined;
}

export function resourceList(template: ArmTemplate): ArmResource[] {
  return Array.isArray(template.resources) ? template.resources : Object.values(template.resources);
}

let root: ArmTemplate | undefined;

/** The compiled root template (compiled once per content of infra/ and bicepconfig.json). */
export function mainTemplate(): ArmTemplate {
  root ??= compiledTemplate() as ArmTemplate;
  return root;
}

/** The root and every nested deployment template, depth first. */
export function templateScopes(): TemplateScope[] {
  const out: TemplateScope[] = [];
  const visit = (scope: TemplateScope): void => {
    out.push(scope);
    for (const r of resourceList(scope.template)) {
      if (r.type !== 'Microsoft.Resources/deployments') continue;
      const nested = dig(r, 'properties', 'template');
      if (!isObject(nested)) continue;
      const passed: Record<string, Json> = {};
      const params = dig(r, 'properties', 'parameters');
      if (isObject(params)) for (const [name, p] of Object.entries(params)) passed[name] = dig(p, 'value') ?? null;
      visit({ path: `${scope.path} > ${r.name}`, template: nested as unknown as ArmTemplate, passed, parent: scope });
    }
  };
  visit({ path: 'main', template: mainTemplate(), passed: {} });
  return out;
}

/** Every resource of a type (not the `existing` references), with the template it is in. */
export function resourcesOfType(type: string): { scope: TemplateScope; resource: ArmResource }[] {
  return templateScopes().flatMap((scope) =>
    resourceList(scope.template)
      .filter((r) => r.type.toLowerCase() === type.toLowerCase() && r.existing !== true)
      .map((resource) => ({ scope, resource })),
  );
}

/** The scope whose template declares a variable or resource type, e.g. the alerts module. */
export function scopeWith(predicate: (t: ArmTemplate) => boolean): TemplateScope {
  const found = templateScopes().find((s) => predicate(s.template));
  if (!found) throw new Error('no template matches');
  return found;
}

/** `[variables('x')]` → the variable's value in that template; anything else unchanged. */
export function resolveVariable(scope: TemplateScope, value: Json | undefined): Json | undefined {
  const m = typeof value === 'string' ? /^\[variables\('([^']+)'\)\]$/.exec(value) : null;
  return m ? scope.template.variables?.[m[1]!] : value;
}

/** The Bicep CLI's console: each line a declaration or an expression; one printed value per expression. */
export function bicepConsole(lines: readonly string[]): string[] {
  const { bicep } = installedTools();
  if (!bicep) throw new Error('the Bicep CLI is not installed (npm run tools)');
  const r = spawnSync(bicep, ['console'], { cwd: path.join(ROOT, 'infra'), input: lines.join('\n') + '\n', encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bicep console failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

/**
 * The resource a `reference(...)` in an expression points at, and the property read from it:
 * `reference('identity').clientId` (symbolic name, languageVersion 2.0) → the identity resource.
 */
export function referencesIn(scope: TemplateScope, expression: Json | undefined): { resource: ArmResource; property: string }[] {
  if (typeof expression !== 'string' || Array.isArray(scope.template.resources)) return [];
  const byName = scope.template.resources;
  return [...expression.matchAll(/reference\('(\w+)'(?:,[^)]*)?\)\.([\w.]+)/g)].flatMap((m) => {
    const resource = byName[m[1]!];
    return resource ? [{ resource, property: m[2]! }] : [];
  });
}

/** Runs the Bicep CLI with arguments; returns everything it printed. */
export function bicepRun(args: readonly string[]): string {
  const { bicep } = installedTools();
  if (!bicep) throw new Error('the Bicep CLI is not installed (npm run tools)');
  const r = spawnSync(bicep, [...args], { cwd: ROOT, encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`;
}

/** A parsed ARM expression: a string or number literal, or a call (`f(...)`, `__bicep.f(...)`). */
type Expr = { literal: string | number } | { call: string; args: Expr[] };

/** Parses the inside of `[...]`: literals ('' escapes a quote), calls, nothing else. */
function parseExpression(text: string): Expr {
  let at = 0;
  const fail = (): never => {
    throw new Error(`cannot evaluate the ARM expression at ${at}: ${text}`);
  };
  const skip = (): void => {
    while (text[at] === ' ') at++;
  };
  const parse = (): Expr => {
    skip();
    if (text[at] === "'") {
      let value = '';
      for (at++; ; at++) {
        if (at >= text.length) fail();
        if (text[at] === "'") {
          if (text[at + 1] !== "'") break;
          at++;
        }
        value += text[at];
      }
      at++;
      return { literal: value };
    }
    const number = /^-?\d+/.exec(text.slice(at));
    if (number) {
      at += number[0].length;
      return { literal: Number(number[0]) };
    }
    const name = /^[\w.]+/.exec(text.slice(at))?.[0] ?? fail();
    at += name.length;
    if (text[at] !== '(') fail();
    at++;
    const args: Expr[] = [];
    skip();
    while (text[at] !== ')') {
      args.push(parse());
      skip();
      if (text[at] === ',') at++;
      else if (text[at] !== ')') fail();
    }
    at++;
    return { call: name, args };
  };
  const expr = parse();
  if (at !== text.length) fail();
  return expr;
}

/**
 * A string variable's value when the compiled template builds it from others: `[variables('x')]`,
 * `format`, `concat`, `string`, `if`, `empty` and the template's own (Bicep `func`) functions over literals.
 * What Bicep leaves as a plain string comes back unchanged. Throws on anything else (an unknown
 * function, a missing variable or parameter, a value that is not text where text is built, a
 * condition that is not true or false), so a test never compares against an expression it did not
 * evaluate. `parameters` are the template's parameter values, for `parameters('x')` outside a function.
 */
export function evaluateString(scope: TemplateScope, value: Json | undefined, parameters: Readonly<Record<string, Json>> = {}): Json | undefined {
  if (typeof value !== 'string' || !value.startsWith('[')) return value;
  // ARM writes a string that begins with a literal "[" as "[[".
  if (value.startsWith('[[')) return value.slice(1);
  const functions = (Array.isArray(scope.template.functions) ? scope.template.functions : []) as JsonObject[];
  const userFunction = (qualified: string): JsonObject | undefined => {
    const [namespace, name] = qualified.split('.');
    const members = functions.find((f) => f.namespace === namespace)?.members;
    return isObject(members) && name !== undefined && isObject(members[name]) ? members[name] : undefined;
  };
  // Text put into a query must be text: an object, a list or a null would print as something the
  // real engine would not produce, and a test reading it would pass on nonsense.
  // ARM converts with .NET, so a boolean in string(), concat and format (Bicep's '${flag}') is
  // True or False, never JSON's true or false.
  const text = (v: Json): string => {
    if (typeof v === 'boolean') return v ? 'True' : 'False';
    if (typeof v === 'string' || typeof v === 'number') return String(v);
    throw new Error(`cannot put ${JSON.stringify(v)} into text in ${value}`);
  };
  const evaluate = (expr: Expr, params: Readonly<Record<string, Json>>): Json => {
    if ('literal' in expr) return expr.literal;
    const args = (): Json[] => expr.args.map((a) => evaluate(a, params));
    switch (expr.call) {
      case 'variables': {
        const name = String(args()[0]);
        const variables = scope.template.variables;
        if (!isObject(variables) || !(name in variables)) throw new Error(`no variable ${name} in ${value}`);
        return evaluateString(scope, variables[name], parameters) ?? null;
      }
      case 'parameters': {
        const name = String(args()[0]);
        if (!(name in params)) throw new Error(`no parameter ${name} in ${value}`);
        return params[name]!;
      }
      case 'concat':
        return args().map(text).join('');
      case 'string': {
        const [v, ...more] = args();
        if (v === undefined || more.length > 0) throw new Error(`string needs one argument: ${value}`);
        return text(v);
      }
      case 'empty': {
        const [v] = args();
        return v === null || v === '' || (Array.isArray(v) && v.length === 0);
      }
      case 'if': {
        const [condition, whenTrue, whenFalse] = expr.args;
        if (!condition || !whenTrue || !whenFalse) throw new Error(`if needs three arguments: ${value}`);
        const test = evaluate(condition, params);
        if (typeof test !== 'boolean') throw new Error(`if needs a true or false condition, not ${JSON.stringify(test)}: ${value}`);
        return test ? evaluate(whenTrue, params) : evaluate(whenFalse, params);
      }
      case 'format': {
        const [template, ...rest] = args();
        return String(template).replace(/\{\{|\}\}|\{(\d+)\}/g, (m, i?: string) => (i === undefined ? m[0]! : text(rest[Number(i)] ?? null)));
      }
      default: {
        const fn = userFunction(expr.call);
        if (!fn) throw new Error(`cannot evaluate ${expr.call}(...) in ${value}`);
        const names = (fn.parameters as JsonObject[]).map((p) => String(p.name));
        const values = args();
        const bound = Object.fromEntries(names.map((n, i) => [n, values[i] ?? null]));
        const body = String(dig(fn, 'output', 'value'));
        return evaluate(parseExpression(body.slice(1, -1)), bound);
      }
    }
  };
  return evaluate(parseExpression(value.slice(1, -1)), parameters);
}
