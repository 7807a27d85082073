// Table key encoding, without storage: any text becomes a key Azure Tables takes and reads back
// as itself, prefix ranges hold exactly the keys that begin with the prefix, times sort newest
// first, and servers spread over partitions by a fixed hash.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketOf, decodeKey, encodeKey, invertedTime, prefixRange } from '../../src/store/keys';

describe('encodeKey / decodeKey', () => {
  it('escapes the characters keys may not hold, the separator, the quote and the escape itself', () => {
    expect(encodeKey('a/b\\c#d?e|f%g')).toBe('a%2Fb%5Cc%23d%3Fe%7Cf%25g');
    expect(encodeKey("o'neil")).toBe('o%27neil');
    expect(encodeKey('\u0000\u001f\u007f\u009f')).toBe('%00%1F%7F%9F');
    expect(encodeKey('exch1.corp.contoso.com')).toBe('exch1.corp.contoso.com');
    expect(encodeKey(' \u0020\u00a0')).toBe('  \u00a0');
    expect(encodeKey('\u0080')).toBe('%80');
  });

  it('writes the empty text as a key of its own, and reads it back', () => {
    expect(encodeKey('')).toBe('%00e');
    expect(decodeKey('%00e')).toBe('');
  });

  it('reads every text back as itself (300 runs)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(decodeKey(encodeKey(s))).toBe(s);
        // eslint-disable-next-line no-control-regex -- no control character may be left in a key
        expect(encodeKey(s)).not.toMatch(/[/\\#?|'\u0000-\u001f\u007f-\u009f]/);
      }),
      { numRuns: 300 },
    );
  });

  it('gives two texts two keys, NUL then "e" and the empty text among them (300 runs)', () => {
    expect(encodeKey('\u0000e')).toBe('%00%65');
    expect(decodeKey(encodeKey('\u0000e'))).toBe('\u0000e');
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        fc.pre(a !== b);
        expect(encodeKey(a)).not.toBe(encodeKey(b));
      }),
      { numRuns: 300, examples: [['', '\u0000e'], ['%', '%25'], ['\u0000', '%00']] },
    );
  });

  it('leaves lower-case hex escapes and text after a lone % as they are', () => {
    expect(decodeKey('%2f')).toBe('%2f');
    expect(decodeKey('a%2')).toBe('a%2');
  });
});

describe('prefixRange', () => {
  // Escaped and plain characters, the escape's own and the empty text's marker among them.
  const KEY_CHARS = fc.constantFrom('\u0000', 'e', '%', '0', 'a', '|', '/', '\u009f', '\u00e9');

  it('runs from the encoded prefix to the first key after every key that begins with it', () => {
    expect(prefixRange('exch1.')).toEqual({ from: 'exch1.', to: 'exch1/' });
    expect(prefixRange('a|')).toEqual({ from: 'a%7C', to: 'a%7D' });
    const { from, to } = prefixRange('mbx');
    for (const inside of ['mbx', 'mbx1.corp', 'mbx\uffff']) expect(inside >= from && inside < to).toBe(true);
    for (const outside of ['mbw', 'mby', 'mb']) expect(outside >= from && outside < to).toBe(false);
  });

  it('holds the key of every text that begins with the prefix, and no other (300 runs)', () => {
    fc.assert(
      fc.property(fc.string({ unit: KEY_CHARS, maxLength: 3 }), fc.string({ unit: KEY_CHARS, maxLength: 4 }), (prefix, text) => {
        // The empty text's key, NUL then "e", falls among texts that begin with NUL.
        fc.pre(text !== '');
        const { from, to } = prefixRange(prefix);
        const key = encodeKey(text);
        expect(key >= from && key < to).toBe(text.startsWith(prefix));
      }),
      { numRuns: 300, examples: [['\u0000e', '\u0000ex'], ['\u0000', '\u0000e'], ['', 'a']] },
    );
  });
});

describe('invertedTime', () => {
  it('writes 13 digits that sort newest first', () => {
    expect(invertedTime(0)).toBe('9999999999999');
    expect(invertedTime(9_999_999_999_999)).toBe('0000000000000');
    expect(invertedTime(1_764_000_000_000)).toBe('8235999999999');
    expect(invertedTime(1_764_000_000_000.9)).toBe('8235999999999');
    expect(invertedTime(2000) < invertedTime(1000)).toBe(true);
  });

  it('holds times out of range to its ends', () => {
    expect(invertedTime(-5)).toBe('9999999999999');
    expect(invertedTime(1e14)).toBe('0000000000000');
  });
});

describe('bucketOf', () => {
  it('is a fixed FNV-1a hash of the text, modulo the buckets, as b and two hex digits', () => {
    // FNV-1a 32-bit of "" is 2166136261, of "a" 0xe40c292c.
    expect(bucketOf('', 1000)).toBe('b' + (2166136261 % 1000).toString(16).padStart(2, '0'));
    expect(bucketOf('a', 256)).toBe('b2c');
    expect(bucketOf('a', 7)).toBe('b' + (0xe40c292c % 7).toString(16).padStart(2, '0'));
    expect(bucketOf('exch1.corp.contoso.com', 1)).toBe('b00');
    const spread = new Set(Array.from({ length: 200 }, (_, i) => bucketOf(`srv${i}.corp`, 16)));
    expect(spread.size).toBe(16);
  });
});
