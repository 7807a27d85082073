// A registry value of any type the snapshot contract allows, for fast-check properties: text for
// the string types, base64 for the binary ones, each caller choosing what text and bytes mean to it.
import fc from 'fast-check';

export const registryValueOf =
  (text: fc.Arbitrary<string>, binary: fc.Arbitrary<string>, binaryTypes: readonly ('REG_BINARY' | 'REG_NONE' | 'REG_DWORD_BIG_ENDIAN')[] = ['REG_BINARY', 'REG_NONE']) =>
  (name: string) =>
    fc.oneof(
      fc.record({ name: fc.constant(name), type: fc.constantFrom('REG_SZ' as const, 'REG_EXPAND_SZ' as const), data: text }),
      fc.record({ name: fc.constant(name), type: fc.constant('REG_MULTI_SZ' as const), data: fc.array(text, { maxLength: 3 }) }),
      fc.record({ name: fc.constant(name), type: fc.constant('REG_DWORD' as const), data: fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 4294967295 })) }),
      fc.record({ name: fc.constant(name), type: fc.constant('REG_QWORD' as const), data: fc.bigInt({ min: 0n, max: 18446744073709551615n }).map(String) }),
      fc.record({ name: fc.constant(name), type: fc.constantFrom(...binaryTypes), data: binary }),
    );
