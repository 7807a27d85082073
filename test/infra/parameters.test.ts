// Every parameter of infra/main.bicep says what it is: the description is what `azd provision`
// shows when it asks for a value and what the portal shows beside the field.
import { describe, expect, it } from 'vitest';
import { dig, mainTemplate } from './arm';

describe('parameters of main.bicep', () => {
  it('each has a description', () => {
    const params = Object.entries(mainTemplate().parameters ?? {});
    expect(params.length).toBeGreaterThan(0);
    expect(params.filter(([, p]) => typeof dig(p.metadata, 'description') !== 'string').map(([name]) => name)).toEqual([]);
  });
});
