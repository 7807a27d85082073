// The evaluator the alert tests read compiled queries with: it must refuse what it cannot evaluate
// faithfully, or a test would compare a query against text the real engine never builds.
import { describe, expect, it } from 'vitest';
import { evaluateString, type ArmTemplate, type TemplateScope } from './arm';

const scopeOf = (variables: Record<string, unknown>): TemplateScope => ({
  path: 'main',
  template: { variables } as unknown as ArmTemplate,
  passed: {},
});

describe('evaluateString', () => {
  const scope = scopeOf({ word: 'alerts', flag: true, bag: { a: 1 }, nothing: null });

  it('builds text from variables, format, concat and if', () => {
    expect(evaluateString(scope, "[format('{0} {{x}} {1}', variables('word'), concat('a', 'b'))]")).toBe('alerts {x} ab');
    expect(evaluateString(scope, "[if(variables('flag'), 'yes', 'no')]")).toBe('yes');
  });

  it('writes a boolean as ARM does, True or False, in string(), concat and format (Bicep interpolation)', () => {
    const flags = scopeOf({ on: true, off: false });
    expect(evaluateString(flags, "[string(variables('on'))]")).toBe('True');
    expect(evaluateString(flags, "[string(variables('off'))]")).toBe('False');
    expect(evaluateString(flags, "[concat('enabled=', variables('on'))]")).toBe('enabled=True');
    expect(evaluateString(flags, "[format('{0}/{1}', variables('on'), variables('off'))]")).toBe('True/False');
  });

  it('gives back a string ARM escaped with a leading [[ as the text it stands for', () => {
    expect(evaluateString(scope, '[[not an expression]')).toBe('[not an expression]');
  });

  it.each([
    ["[variables('missing')]", /no variable missing/],
    ["[parameters('p')]", /no parameter p/],
    ["[concat('a', variables('bag'))]", /cannot put/],
    ["[format('{0}', variables('nothing'))]", /cannot put null/],
    ["[if(variables('word'), 'yes', 'no')]", /true or false/],
    ["[toLower('A')]", /cannot evaluate toLower/],
    ["[string('a', 'b')]", /string needs one argument/],
    ["[string(variables('bag'))]", /cannot put/],
  ])('refuses %s', (expression, message) => {
    expect(() => evaluateString(scope, expression)).toThrow(message);
  });
});
