// Reading the BehaviourBlocking branch of the installed generation into port rules.
import { getKey, getValue, keysBelow, type NormalisedSnapshot, type RegistryKeyState, type RegistryView } from '../../snapshot/normalise';
import { decodeReferenceLayout } from './decode-reference-layout';
import { builtInMassMailingRule, decodeUserRules, USER_RULES_VALUE, type UserRules } from './decode-user-rules';
import { BEHAVIOUR_BLOCKING_KEYS, GENERATIONS, LOG_PATH_VALUES, VIEWS, type Generation } from './locations';
import { isMassMailingRule, type PortRule } from './port-rules';
import { keyIsThere } from './product';
import { readFlag, readText } from './registry-values';

export type ConfigState = 'ok' | 'missing' | 'unreadable' | 'unrecognised';

/** A BehaviourBlocking key that exists but does not decide: another generation's, or the other view's. */
export interface Leftover {
  readonly path: string;
  readonly view: RegistryView;
  readonly generation: Generation;
}

/** A value of the settings key naming the access-protection log, as written (not expanded). */
export interface LogPathSetting {
  readonly valueName: string;
  readonly value: string;
}

export interface ConfigRead {
  readonly state: ConfigState;
  /** The key read (or the first place looked when nothing was found). */
  readonly path: string;
  readonly view: RegistryView | null;
  readonly lastWriteMs?: number;
  readonly problems: readonly string[];
  readonly apEnabled: boolean | null;
  /** APInstalled: 0 means the Access Protection component is not installed. */
  readonly apInstalled: boolean | null;
  readonly leftovers: readonly Leftover[];
  /** Value names of the 8.0i file-rule layout (`FileBlockEnabled_27`) left in a newer generation's key. */
  readonly olderLayoutValues: readonly string[];
  readonly logPathSettings: readonly LogPathSetting[];
  readonly userRules: UserRules | null;
  readonly rules: readonly PortRule[];
  /** The 8.5+ built-in rule came from product defaults (no UserEnforce AVO10 line). */
  readonly assumedDefaultState: boolean;
}

function viewsFrom(first: RegistryView): RegistryView[] {
  return first === '32' ? ['32', '64'] : ['64', '32'];
}

/** The BehaviourBlocking key of a generation, preferring the installed key's view. */
export function findSettingsKey(s: NormalisedSnapshot, generation: Generation, firstView: RegistryView): RegistryKeyState | undefined {
  const keys = viewsFrom(firstView).map((v) => getKey(s, BEHAVIOUR_BLOCKING_KEYS[generation], v));
  return keys.find((k) => k?.exists === true) ?? keys.find(keyIsThere);
}

/** For 8.5+ when the version is unreadable: which settings key exists (8.8 first). */
export function generationBySettings(s: NormalisedSnapshot, firstView: RegistryView): Generation | undefined {
  return (['VSE88', 'VSE85-87'] as const).find((g) => findSettingsKey(s, g, firstView) !== undefined);
}

const empty = { apEnabled: null, apInstalled: null, olderLayoutValues: [], logPathSettings: [], userRules: null, rules: [], assumedDefaultState: false } as const;

/** Every BehaviourBlocking key that exists in the snapshot other than the one that decides. */
function leftoversOf(s: NormalisedSnapshot, deciding: RegistryKeyState | undefined): Leftover[] {
  const out: Leftover[] = [];
  for (const generation of GENERATIONS) {
    for (const view of VIEWS) {
      const k = getKey(s, BEHAVIOUR_BLOCKING_KEYS[generation], view);
      if (k && keyIsThere(k) && k !== deciding) out.push({ path: k.path, view: k.view, generation });
    }
  }
  return out;
}

function flag(key: RegistryKeyState, name: string, problems: string[]): boolean | null {
  const v = getValue(key, name);
  if (!v) return null;
  const read = readFlag(v);
  if (read.ok) return read.value;
  problems.push(read.problem);
  return null;
}

function logPathSettings(key: RegistryKeyState): LogPathSetting[] {
  return LOG_PATH_VALUES.flatMap((name) => {
    const v = getValue(key, name);
    const text = v ? readText(v) : undefined;
    return text?.ok && text.value.trim() !== '' ? [{ valueName: v!.name, value: text.value }] : [];
  });
}

const OLDER_LAYOUT_VALUE = /^FileBlock[A-Za-z]*_\d+$/;

export function readConfig(s: NormalisedSnapshot, generation: Generation, firstView: RegistryView): ConfigRead {
  let key = findSettingsKey(s, generation, firstView);
  const problems: string[] = [];
  if (!key && generation !== 'VSE80i') {
    // 8.5/8.7 and 8.8 share the installed key: fall back to the other family member's branch.
    const other: Generation = generation === 'VSE88' ? 'VSE85-87' : 'VSE88';
    key = findSettingsKey(s, other, firstView);
    if (key) problems.push(`settings found at ${key.path}, not where ${generation} keeps them`);
  }
  const leftovers = leftoversOf(s, key);
  if (!key) {
    return { ...empty, leftovers, state: 'missing', path: BEHAVIOUR_BLOCKING_KEYS[generation], view: null, problems: ['the BehaviourBlocking key is not in the snapshot or does not exist'] };
  }
  const where = { path: key.path, view: key.view, lastWriteMs: key.lastWriteTime, leftovers };
  // A settings key is found only when it exists or could not be read, so one that does not exist has an error.
  if (key.error) return { ...empty, ...where, state: 'unreadable', problems: [`the collector could not read the key (${key.error.code})`] };
  const below = keysBelow(s, key.path, key.view);
  const unreadableBelow = below.flatMap((k) => (k.error ? [`the collector could not read ${k.path} (${k.error.code})`] : []));
  if (unreadableBelow.length > 0) return { ...empty, ...where, state: 'unreadable', problems: unreadableBelow };

  const apEnabled = flag(key, 'APEnabled', problems);
  const apInstalled = flag(key, 'APInstalled', problems);
  const olderLayoutValues = generation === 'VSE80i' ? [] : [...key.values.values()].map((v) => v.name).filter((n) => OLDER_LAYOUT_VALUE.test(n));
  const read = { apEnabled, apInstalled, olderLayoutValues, logPathSettings: logPathSettings(key) };

  // Keys below that do not exist hold no values, so they add nothing.
  const ref = decodeReferenceLayout([key, ...below], key.path);
  const rules = [...ref.rules];
  let userRules: UserRules | null = null;
  let assumedDefaultState = false;
  let recognised = ref.rules.length + ref.malformed.length > 0;

  if (generation !== 'VSE80i') {
    const raw = getValue(key, USER_RULES_VALUE);
    if (raw) {
      const decoded = decodeUserRules(raw);
      if (!decoded.ok) return { ...empty, ...where, ...read, state: 'unrecognised', problems: [...problems, decoded.problem] };
      userRules = decoded;
      recognised = true;
    }
    // A reference-layout copy of the built-in rule takes precedence over defaults.
    if (recognised && !ref.rules.some(isMassMailingRule)) {
      rules.push(builtInMassMailingRule(userRules ?? undefined));
      assumedDefaultState = userRules?.enforce === undefined;
    }
  }

  if (!recognised) {
    return { ...empty, ...where, ...read, state: 'unrecognised', problems: [...problems, 'the key holds neither port-blocking rule values nor AccessProtectionUserRules'] };
  }
  if (ref.malformed.length > 0) {
    const detail = ref.malformed.map((m) => `rule ${m.id}: ${m.problems.join(', ')}`);
    return { ...empty, ...where, ...read, userRules, rules, state: 'unrecognised', problems: [...problems, ...detail] };
  }
  // Spelled out, not `...where`: this spread was the costliest line of an evaluation.
  return {
    path: key.path,
    view: key.view,
    lastWriteMs: key.lastWriteTime,
    leftovers,
    state: 'ok',
    problems,
    apEnabled,
    apInstalled,
    olderLayoutValues: read.olderLayoutValues,
    logPathSettings: read.logPathSettings,
    userRules,
    rules,
    assumedDefaultState,
  };
}
