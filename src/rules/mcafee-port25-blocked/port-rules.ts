// The port-blocking rule model shared by every decoder, and the two questions the decision
// table asks of a rule: does it block outbound TCP 25, and does it apply to a given process?
import { firstMatch } from './process-match';

export type Direction = 'Outbound' | 'Inbound' | 'Both';

export interface PortRange {
  readonly from: number;
  readonly to: number;
}

export interface PortRule {
  readonly name: string;
  /** Built-in rule id (AVO10) or the reference layout's `_N` suffix ("#27"). */
  readonly id: string;
  /** Block on. */
  readonly enabled: boolean;
  /** Report on. */
  readonly report: boolean;
  readonly ports: readonly PortRange[];
  readonly direction: Direction;
  /** Empty = every process. */
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  /** Where the rule came from: `reference-layout`, `AccessProtectionUserRules`, `product-default`. */
  readonly source: string;
  /** Parts of the rule taken from product defaults rather than read. */
  readonly assumed: readonly string[];
}

export const SMTP_PORT = 25;

/** The built-in mass-mailing rule, by id or by its English or Japanese name. */
export const MASS_MAILING_ID = 'AVO10';
const MASS_MAILING_NAMES = [/mass[\s-]*mailing\s+worm/i, /マス\s*メール型ワーム/];

export function isMassMailingRule(rule: Pick<PortRule, 'id' | 'name'>): boolean {
  return rule.id.toUpperCase() === MASS_MAILING_ID || MASS_MAILING_NAMES.some((re) => re.test(rule.name));
}

/**
 * Parses a port list such as `25`, `25,587` or `20-30` (separators `,` `;` or blanks).
 * Returns undefined when any token is not a port or a range of ports.
 */
export function parsePortList(text: string): PortRange[] | undefined {
  const tokens = text.split(/[,;\s]/).filter((t) => t !== '');
  if (tokens.length === 0) return undefined;
  const out: PortRange[] = [];
  for (const token of tokens) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(token);
    if (!m) return undefined;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 1 || to > 65535 || from > to) return undefined;
    out.push({ from, to });
  }
  return out;
}

export function formatPorts(ports: readonly PortRange[]): string {
  return ports.map((p) => (p.from === p.to ? String(p.from) : `${p.from}-${p.to}`)).join(',');
}

export function parseDirection(text: string | undefined): Direction | undefined {
  if (text === undefined || text.trim() === '') return 'Outbound';
  const t = text.trim().toLowerCase();
  if (t === 'outbound' || t === 'out') return 'Outbound';
  if (t === 'inbound' || t === 'in') return 'Inbound';
  if (t === 'both' || t === 'inbound and outbound') return 'Both';
  return undefined;
}

export function coversPort(rule: Pick<PortRule, 'ports'>, port: number): boolean {
  return rule.ports.some((p) => p.from <= port && port <= p.to);
}

/** Port 25 in its list or ranges, towards the remote side. */
export function coversOutbound25(rule: Pick<PortRule, 'ports' | 'direction'>): boolean {
  return rule.direction !== 'Inbound' && coversPort(rule, SMTP_PORT);
}

/** Block on and covering outbound 25: such a rule can stop Exchange from sending. */
export function blocksOutbound25(rule: PortRule): boolean {
  return rule.enabled && coversOutbound25(rule);
}

export interface Applicability {
  readonly applies: boolean;
  /** Why not: the exclusion entry that matched, or that no include entry matched. */
  readonly excludedBy?: string;
  readonly notIncluded?: boolean;
}

/** A rule applies when the process is in its include list (empty or `*` = all) and in no exclusion. */
export function appliesTo(rule: Pick<PortRule, 'include' | 'exclude'>, process: string): Applicability {
  const included = rule.include.length === 0 || firstMatch(rule.include, process) !== undefined;
  if (!included) return { applies: false, notIncluded: true };
  const excludedBy = firstMatch(rule.exclude, process);
  return excludedBy === undefined ? { applies: true } : { applies: false, excludedBy };
}
