// The Flex Consumption scale bounds the template accepts against the platform's documented ones
// (Microsoft's Flex Consumption plan page: the lowest maximum instance count is 40, the highest
// 1000), so a value the platform would refuse stops at template validation, before anything is made.
import { describe, expect, it } from 'vitest';
import { mainTemplate } from './arm';

describe('maximumInstanceCount', () => {
  it('accepts 40 to 1000, and defaults to a value inside', () => {
    const param = mainTemplate().parameters?.maximumInstanceCount;
    expect(param).toMatchObject({ type: 'int', minValue: 40, maxValue: 1000 });
    expect(Number(param?.defaultValue)).toBeGreaterThanOrEqual(40);
    expect(Number(param?.defaultValue)).toBeLessThanOrEqual(1000);
  });
});

describe('instanceMemoryMB', () => {
  it('offers only sizes above the Node worker heap cap, since the Functions host shares the instance', () => {
    const template = mainTemplate();
    const cap = Number(/--max-old-space-size=(\d+)/.exec(JSON.stringify(template))?.[1]);
    expect(cap).toBeGreaterThan(0);
    const allowed = (template.parameters?.instanceMemoryMB?.allowedValues ?? []) as number[];
    expect(allowed.length).toBeGreaterThan(0);
    for (const mb of allowed) expect(mb, `${mb} MB`).toBeGreaterThan(cap);
    expect(allowed).toContain(Number(template.parameters?.instanceMemoryMB?.defaultValue));
  });
});
