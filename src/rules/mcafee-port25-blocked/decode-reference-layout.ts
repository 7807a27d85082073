// VSE 8.0i port-blocking rules in the project's REFERENCE LAYOUT (a reconstruction: the real
// value names are not public). Values are grouped by their numeric `_N` suffix, in the style of
// the verified `FileBlockEnabled_27`. The table below is the whole layout, so a corrected layout
// is a change of names here, not of code.
import type { RegistryKeyState } from '../../snapshot/normalise';
import type { RegistryValue } from '../../snapshot/schema';
import { parseDirection, parsePortList, type Direction, type PortRange, type PortRule } from './port-rules';
import { splitProcessList } from './process-match';
import { readFlag, readList, readText } from './registry-values';

export const REFERENCE_LAYOUT = {
  name: 'PortBlockRuleName',
  enabled: 'PortBlockEnabled',
  report: 'PortBlockReport',
  ports: 'PortBlockPorts',
  direction: 'PortBlockDirection',
  exclude: 'PortBlockExcludedProcesses',
  include: 'PortBlockIncludedProcesses',
} as const;

type Field = keyof typeof REFERENCE_LAYOUT;

const FIELD_BY_BASE = new Map<string, Field>(
  (Object.entries(REFERENCE_LAYOUT) as [Field, string][]).map(([field, base]) => [base.toLowerCase(), field]),
);

export interface RuleProblem {
  readonly id: string;
  readonly problems: readonly string[];
}

export interface ReferenceLayoutResult {
  readonly rules: PortRule[];
  /** Groups that exist but cannot be decoded (e.g. Block flag of the wrong type). */
  readonly malformed: RuleProblem[];
}

// `<base>_<number>`; the base is everything before the last underscore.
const SUFFIXED = /(.+)_(\d+)$/;

function groupsOf(key: RegistryKeyState): Map<string, Partial<Record<Field, RegistryValue>>> {
  const groups = new Map<string, Partial<Record<Field, RegistryValue>>>();
  for (const value of key.values.values()) {
    const m = SUFFIXED.exec(value.name);
    const field = m ? FIELD_BY_BASE.get(m[1]!.toLowerCase()) : undefined;
    if (!m || !field) continue;
    const n = String(Number(m[2]));
    const group = groups.get(n) ?? {};
    group[field] = value;
    groups.set(n, group);
  }
  return groups;
}

type Problem = { readonly problem: string };

function readPorts(v: RegistryValue | undefined): PortRange[] | Problem {
  if (!v) return { problem: `${REFERENCE_LAYOUT.ports} is missing` };
  const text = readText(v);
  if (!text.ok) return { problem: text.problem };
  return parsePortList(text.value) ?? { problem: `${v.name} "${text.value}" is not a list of ports` };
}

/** Outbound when absent. */
function readDirection(v: RegistryValue | undefined): Direction | Problem {
  if (!v) return 'Outbound';
  const text = readText(v);
  if (!text.ok) return { problem: text.problem };
  return parseDirection(text.value) ?? { problem: `${v.name} is not Outbound, Inbound or Both` };
}

function decodeGroup(id: string, g: Partial<Record<Field, RegistryValue>>): PortRule | RuleProblem {
  const problems: string[] = [];
  const enabled = g.enabled ? readFlag(g.enabled) : undefined;
  if (!enabled) problems.push(`${REFERENCE_LAYOUT.enabled} is missing`);
  else if (!enabled.ok) problems.push(enabled.problem);
  const isOn = enabled?.ok === true && enabled.value;

  const report = g.report ? readFlag(g.report) : undefined;
  if (report && !report.ok) problems.push(report.problem);

  // Ports, direction and lists matter only for a rule that blocks: a disabled one may hold anything.
  const ports = readPorts(g.ports);
  if (isOn && !Array.isArray(ports)) problems.push(ports.problem);
  const direction = readDirection(g.direction);
  if (isOn && typeof direction !== 'string') problems.push(direction.problem);

  const lists: Record<'include' | 'exclude', string[]> = { include: [], exclude: [] };
  for (const which of ['include', 'exclude'] as const) {
    const v = g[which];
    if (!v) continue;
    const read = readList(v);
    if (read.ok) lists[which] = splitProcessList(read.value);
    else if (isOn) problems.push(read.problem);
  }

  if (problems.length > 0) return { id, problems };
  const nameText = g.name ? readText(g.name) : undefined;
  return {
    name: nameText?.ok && nameText.value.trim() !== '' ? nameText.value.trim() : `Port blocking rule ${id}`,
    id,
    enabled: isOn,
    report: report?.ok === true && report.value,
    ports: Array.isArray(ports) ? ports : [],
    direction: typeof direction === 'string' ? direction : 'Outbound',
    include: lists.include,
    exclude: lists.exclude,
    source: 'reference-layout',
    assumed: [],
  };
}

/** Decodes every `_N` group in the BehaviourBlocking key and the keys below it. */
export function decodeReferenceLayout(keys: readonly RegistryKeyState[], root: string): ReferenceLayoutResult {
  const rules: PortRule[] = [];
  const malformed: RuleProblem[] = [];
  for (const key of keys) {
    const below = key.path.length > root.length ? key.path.slice(root.length + 1) + ' ' : '';
    const groups = [...groupsOf(key)].sort(([a], [b]) => Number(a) - Number(b));
    for (const [n, g] of groups) {
      const decoded = decodeGroup(`${below}#${n}`, g);
      if ('problems' in decoded) malformed.push(decoded);
      else rules.push(decoded);
    }
  }
  return { rules, malformed };
}
