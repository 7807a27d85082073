// Reading registry values leniently but never silently: a value of the wrong type is reported
// back as a problem instead of being guessed at.
import type { RegistryValue } from '../../snapshot/schema';

export type Read<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

const ok = <T>(value: T): Read<T> => ({ ok: true, value });
const bad = <T>(problem: string): Read<T> => ({ ok: false, problem });

/** A 0/1 flag: REG_DWORD, or a REG_SZ holding a decimal number. */
export function readFlag(v: RegistryValue): Read<boolean> {
  if (v.type === 'REG_DWORD') return ok(v.data !== 0);
  if ((v.type === 'REG_SZ' || v.type === 'REG_EXPAND_SZ') && /^\s*\d{1,10}\s*$/.test(v.data)) return ok(Number(v.data) !== 0);
  if (v.type === 'REG_QWORD') return ok(/[1-9]/.test(v.data));
  return bad(`${v.name} is ${v.type}, not a 0/1 flag`);
}

export function readText(v: RegistryValue): Read<string> {
  if (v.type === 'REG_SZ' || v.type === 'REG_EXPAND_SZ') return ok(v.data);
  if (v.type === 'REG_MULTI_SZ') return ok(v.data.join(','));
  if (v.type === 'REG_DWORD') return ok(String(v.data));
  return bad(`${v.name} is ${v.type}, not text`);
}

export function readList(v: RegistryValue): Read<string | readonly string[]> {
  if (v.type === 'REG_SZ' || v.type === 'REG_EXPAND_SZ' || v.type === 'REG_MULTI_SZ') return ok(v.data);
  return bad(`${v.name} is ${v.type}, not a process list`);
}
