// The configuration this rule's verdict rests on, normalised for fleet drift: which VirusScan
// generation, whether its settings were read, Access Protection on or off, and every port rule's
// Block, Report, ports, direction and process lists. Spelling that matching ignores (case, full
// paths, list order, repeats, equivalent wildcards) is folded away, so only differences that could
// change a verdict — now or after the next change of a service or a rule — separate two servers.
import { sortedSet } from '../common/fingerprint';
import type { FactValue, Facts } from '../types';
import type { NormalisedSnapshot } from '../../snapshot/normalise';
import { generationBySettings, readConfig } from './config';
import { formatPorts, isMassMailingRule, type PortRange, type PortRule } from './port-rules';
import { fileNameOf } from '../common/glob';
import { detectProduct } from './product';

/** The key of the built-in mass-mailing rule, whatever its id, layout or display language. */
export const MASS_MAILING_KEY = 'mass-mailing';

/** A list entry as matching sees it: the file name, lower case; a run of `*` is one `*`. */
function entryKey(entry: string): string {
  const name = fileNameOf(entry).toLowerCase();
  return /^\*+$/.test(name) ? '*' : name;
}

/**
 * Exclusions: an empty entry excludes nothing, so it goes; a `*` excludes every process, so the
 * list is just `*`.
 */
export function normaliseExclusions(list: readonly string[]): string[] {
  const keys = sortedSet(list.map(entryKey).filter((k) => k !== ''));
  return keys.includes('*') ? ['*'] : keys;
}

/**
 * Inclusions: an empty list and a list with `*` both mean every process (`[]`). An empty entry
 * matches no process: it is dropped beside others, but a list of nothing else includes no process
 * and stays `[""]`, which is not "every process".
 */
export function normaliseInclusions(list: readonly string[]): string[] {
  const keys = sortedSet(list.map(entryKey));
  if (keys.includes('*')) return [];
  const named = keys.filter((k) => k !== '');
  return named.length > 0 ? named : keys;
}

/** Ports as sorted, merged ranges: `587,25,20-30` and `20-30,587` are the same list. */
export function normalisePorts(ports: readonly PortRange[]): string {
  // Ranges that start at one port merge into the longest whichever comes first, so the start alone orders.
  const sorted = [...ports].sort((a, b) => a.from - b.from);
  const merged: PortRange[] = [];
  for (const p of sorted) {
    const last = merged[merged.length - 1];
    if (last && p.from <= last.to + 1) merged[merged.length - 1] = { from: last.from, to: Math.max(last.to, p.to) };
    else merged.push(p);
  }
  return formatPorts(merged);
}

interface RuleFacts {
  readonly key: string;
  readonly facts: Readonly<Record<string, FactValue>>;
}

function ruleFacts(r: PortRule): RuleFacts {
  return {
    // Ids from the reference layout carry the registry path below the settings key, whose case Windows ignores.
    key: isMassMailingRule(r) ? MASS_MAILING_KEY : r.id.toLowerCase(),
    facts: {
      block: r.enabled,
      report: r.report,
      ports: normalisePorts(r.ports),
      direction: r.direction,
      include: normaliseInclusions(r.include),
      exclude: normaliseExclusions(r.exclude),
    },
  };
}

/**
 * Two rules under one key (a mass-mailing rule in the settings key and in a key below it) are
 * told apart by their content, not by the order the snapshot listed them in.
 */
function keyed(rules: readonly PortRule[]): Map<string, RuleFacts['facts']> {
  const byKey = new Map<string, RuleFacts['facts'][]>();
  for (const r of rules.map(ruleFacts)) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r.facts]);
  const out = new Map<string, RuleFacts['facts']>();
  for (const [key, list] of byKey) {
    // The default sort orders the JSON texts by code unit; two equal texts are the same facts.
    const ordered = list.map((f) => JSON.stringify(f)).sort();
    ordered.forEach((text, i) => out.set(i === 0 ? key : `${key}~${i + 1}`, JSON.parse(text) as RuleFacts['facts']));
  }
  return out;
}

export function configurationFacts(s: NormalisedSnapshot): Facts {
  const product = detectProduct(s, (view) => generationBySettings(s, view));
  if (!product) return { 'product.generation': null };
  const config = readConfig(s, product.generation, product.installedKey.view);
  const facts: Record<string, FactValue> = { 'product.generation': product.generation, 'settings.read': config.state };
  // Settings that were not read say nothing about Access Protection or the rules.
  if (config.state !== 'ok') return facts;
  // A flag that is absent keeps Access Protection on, as in the decision table.
  facts['accessProtection'] = config.apInstalled === false || config.apEnabled === false ? 'off' : 'on';
  for (const [key, f] of keyed(config.rules)) {
    for (const [field, value] of Object.entries(f)) facts[`portRule[${key}].${field}`] = value;
  }
  return facts;
}
