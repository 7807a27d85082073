// The typed columns every table writes and reads, without storage: each value keeps one EDM type,
// text stays under Azure's string limit without splitting a character, and a column read back as
// the SDK hands it (Date, bigint, { value, type }, or missing) comes out as the record's field.
import { describe, expect, it } from 'vitest';
import {
  bool,
  boundedText,
  bytes,
  cutText,
  dateTime,
  double,
  int32,
  jsonOf,
  languageColumn,
  MAX_STRING_CHARS,
  ms,
  num,
  optStr,
  readColumns,
  readTexts,
  str,
  textColumns,
  TRUNCATION_MARKER,
  writeColumns,
  type ColumnKinds,
} from '../../src/store/columns';

const T = Date.parse('2026-11-28T09:15:00.250Z');
const PAIR = '\u{1F600}'; // two UTF-16 units: \ud83d \ude00

describe('EDM values', () => {
  it('writes times as DateTime, whole numbers as Int32 (cut to whole) and large ones as Double', () => {
    expect(dateTime(T)).toEqual({ value: '2026-11-28T09:15:00.250Z', type: 'DateTime' });
    expect(int32(7.9)).toEqual({ value: 7, type: 'Int32' });
    expect(int32(-7.9)).toEqual({ value: -7, type: 'Int32' });
    expect(double(T)).toEqual({ value: T, type: 'Double' });
  });
});

describe('cutText', () => {
  it('keeps text within the bound as it is', () => {
    expect(cutText('abc', 3)).toBe('abc');
    expect(cutText('abc', 4)).toBe('abc');
    expect(cutText('', 0)).toBe('');
    // Within the bound it is not cut, even where it ends in half a pair (the text's own, not the cut's).
    expect(cutText('ab\ud800', 3)).toBe('ab\ud800');
  });

  it('cuts to the bound, one unit less where the last unit kept would be the first half of a pair', () => {
    expect(cutText('abcd', 3)).toBe('abc');
    expect(cutText(`ab${PAIR}c`, 3)).toBe('ab');
    expect(cutText(`ab${PAIR}c`, 4)).toBe(`ab${PAIR}`);
    // The ends of the high-surrogate range are cut; a low surrogate or the unit above is not.
    expect(cutText('ab\ud800\udc00', 3)).toBe('ab');
    expect(cutText('ab\udbff\udfff', 3)).toBe('ab');
    expect(cutText('ab\udc00x', 3)).toBe('ab\udc00');
    expect(cutText('ab\ud7ffx', 3)).toBe('ab\ud7ff');
    expect(cutText('ab\ue000x', 3)).toBe('ab\ue000');
  });
});

describe('boundedText', () => {
  it('stays a little below the 32,768 UTF-16 units Azure Tables takes in a string', () => {
    expect(MAX_STRING_CHARS).toBe(32_000);
    expect(TRUNCATION_MARKER).toBe('…[truncated]');
  });

  it('keeps text of up to the bound as it is, and ends longer text with the marker, within the bound', () => {
    const exact = 'x'.repeat(MAX_STRING_CHARS);
    expect(boundedText(exact)).toBe(exact);
    const long = 'y'.repeat(MAX_STRING_CHARS + 1);
    const cut = boundedText(long);
    expect(cut).toHaveLength(MAX_STRING_CHARS);
    expect(cut).toBe('y'.repeat(MAX_STRING_CHARS - TRUNCATION_MARKER.length) + TRUNCATION_MARKER);
    expect(boundedText('abcdefghijklmnopqrstuvwxyz', 20)).toBe('abcdefgh…[truncated]');
    expect(boundedText('a'.repeat(20), 20)).toBe('a'.repeat(20));
    // Never half a character before the marker.
    expect(boundedText(`abcdefg${PAIR}zzzzzzzzzzzzzz`, 20)).toBe('abcdefg…[truncated]');
  });
});

describe('language columns', () => {
  it('names a column per language with the language capitalised between prefix and suffix', () => {
    expect(languageColumn('Message', 'en')).toBe('MessageEn');
    expect(languageColumn('Remediation', 'ja', 'Json')).toBe('RemediationJaJson');
  });

  it('writes one bounded column per language and reads them back, a missing one as empty', () => {
    const cols = textColumns('Message', { en: 'Blocked.', ja: 'z'.repeat(MAX_STRING_CHARS + 5) }, 'X');
    expect(Object.keys(cols)).toEqual(['MessageEnX', 'MessageJaX']);
    expect(cols['MessageEnX']).toBe('Blocked.');
    expect(cols['MessageJaX']).toHaveLength(MAX_STRING_CHARS);
    expect(readTexts({ MessageEn: 'Blocked.', MessageJa: 'ブロック。' }, 'Message')).toEqual({ en: 'Blocked.', ja: 'ブロック。' });
    expect(readTexts({ MessageEnX: 'a' }, 'Message', 'X')).toEqual({ en: 'a', ja: '' });
  });
});

describe('reading columns', () => {
  const row = {
    Text: 'abc',
    Empty: '',
    Flag: true,
    FlagText: 'true',
    Num: 5,
    Big: BigInt(2) ** BigInt(40),
    Typed: { value: '12', type: 'Int64' },
    When: new Date(T),
    WhenText: '2026-11-28T09:15:00.250Z',
    WhenBad: 'not a time',
    WhenTyped: { value: '2026-11-28T09:15:00.250Z', type: 'DateTime' },
    WhenTypedDate: { value: new Date(T) },
    Null: null,
    Bytes: new Uint8Array([1, 2]),
    Json: '{"a":[1]}',
    JsonBad: '{"a":',
  };

  it('str: a string column, anything else as empty', () => {
    expect(str(row, 'Text')).toBe('abc');
    expect(str(row, 'Num')).toBe('');
    expect(str(row, 'Missing')).toBe('');
  });

  it('optStr: a non-empty string column, else undefined', () => {
    expect(optStr(row, 'Text')).toBe('abc');
    expect(optStr(row, 'Empty')).toBeUndefined();
    expect(optStr(row, 'Num')).toBeUndefined();
    expect(optStr(row, 'Missing')).toBeUndefined();
  });

  it('bool: true only for the boolean true', () => {
    expect(bool(row, 'Flag')).toBe(true);
    expect(bool(row, 'FlagText')).toBe(false);
    expect(bool(row, 'Missing')).toBe(false);
  });

  it('num: numbers, bigints and typed values as numbers, else undefined', () => {
    expect(num(row, 'Num')).toBe(5);
    expect(num(row, 'Big')).toBe(2 ** 40);
    expect(num(row, 'Typed')).toBe(12);
    expect(num(row, 'Text')).toBeUndefined();
    expect(num(row, 'Null')).toBeUndefined();
    expect(num(row, 'Missing')).toBeUndefined();
    expect(num(row, 'Bytes')).toBeUndefined();
  });

  it('ms: a Date, an ISO string or a typed value as epoch ms; text that is no time as undefined', () => {
    expect(ms(row, 'When')).toBe(T);
    expect(ms(row, 'WhenText')).toBe(T);
    expect(ms(row, 'WhenTyped')).toBe(T);
    expect(ms(row, 'WhenTypedDate')).toBe(T);
    expect(ms(row, 'WhenBad')).toBeUndefined();
    expect(ms(row, 'Num')).toBeUndefined();
    expect(ms(row, 'Null')).toBeUndefined();
    expect(ms(row, 'Missing')).toBeUndefined();
    expect(ms(row, 'Bytes')).toBeUndefined();
  });

  it('bytes: a binary column, else undefined', () => {
    expect(bytes(row, 'Bytes')).toEqual(new Uint8Array([1, 2]));
    expect(bytes(row, 'Text')).toBeUndefined();
  });

  it('jsonOf: the value a JSON column holds; absent, empty, not text or not JSON as undefined', () => {
    expect(jsonOf(row, 'Json')).toEqual({ a: [1] });
    expect(jsonOf(row, 'JsonBad')).toBeUndefined();
    expect(jsonOf(row, 'Empty')).toBeUndefined();
    expect(jsonOf(row, 'Missing')).toBeUndefined();
    expect(jsonOf(row, 'Num')).toBeUndefined();
    expect(jsonOf({ Zero: '0', False: 'false' }, 'Zero')).toBe(0);
    expect(jsonOf({ False: 'false' }, 'False')).toBe(false);
  });
});

interface Rec {
  name: string;
  note?: string;
  at: number;
  seen?: number;
  on: boolean;
  count?: number;
}
const KINDS: ColumnKinds<Rec> = { name: 'text', note: 'optText', at: 'time', seen: 'optTime', on: 'bool', count: 'optInt' };
const READ = { name: 'text', note: 'optText', at: 'time', seen: 'optTime', on: 'bool', count: 'optInt' } as const;

describe('writeColumns / readColumns', () => {
  it('writes each field in the column named like it, with its type', () => {
    expect(writeColumns<Rec>({ name: 'n', note: 'x', at: T, seen: T + 1, on: true, count: 3.7 }, KINDS)).toStrictEqual({
      Name: 'n',
      Note: 'x',
      At: { value: '2026-11-28T09:15:00.250Z', type: 'DateTime' },
      Seen: { value: '2026-11-28T09:15:00.251Z', type: 'DateTime' },
      On: true,
      Count: { value: 3, type: 'Int32' },
    });
  });

  it('writes an absent optional text as empty, a flag not true as false, and leaves out absent times and numbers', () => {
    expect(writeColumns<Rec>({ name: 'n', at: T, on: false }, KINDS)).toStrictEqual({ Name: 'n', Note: '', At: { value: '2026-11-28T09:15:00.250Z', type: 'DateTime' }, On: false });
    expect(writeColumns({ on: 'yes' } as unknown as Rec, { on: 'bool' })).toStrictEqual({ On: false });
    expect(writeColumns({ count: 0, name: 0 } as unknown as Rec, { count: 'optInt', name: 'text' })).toStrictEqual({ Count: { value: 0, type: 'Int32' }, Name: '0' });
  });

  it('reads them back; an empty optional text and a missing optional time or number as undefined, a missing time as 0', () => {
    const full = { name: 'n', note: 'x', at: T, seen: T + 1, on: true, count: 3 };
    const written = writeColumns<Rec>(full, KINDS);
    // As the SDK hands typed values back: times as Date, Int32 as a number.
    const asRead = { ...written, At: new Date(T), Seen: new Date(T + 1), Count: 3 };
    expect(readColumns<Rec, keyof typeof READ>(asRead, READ)).toStrictEqual(full);
    expect(readColumns<Rec, keyof typeof READ>({ Name: 'n', Note: '' }, READ)).toStrictEqual({ name: 'n', note: undefined, at: 0, seen: undefined, on: false, count: undefined });
    expect(readColumns<Rec, keyof typeof READ>({}, READ)).toStrictEqual({ name: '', note: undefined, at: 0, seen: undefined, on: false, count: undefined });
  });
});
