// The rule interface. A rule is pure: a normalised snapshot in, a result out, no I/O. What it
// needs collected is declared here and the collection manifest is derived from it.
import type { NormalisedSnapshot, RegistryView } from '../snapshot/normalise';
import type { ManifestFileEntry, ManifestRegistryEntry } from '../snapshot/schema';

export const STATUSES = ['Pass', 'Warning', 'Error', 'NotApplicable', 'Unknown'] as const;
export type Status = (typeof STATUSES)[number];

export const LANGUAGES = ['en', 'ja'] as const;
export type Lang = (typeof LANGUAGES)[number];

/** Text in every language the product speaks. */
export type Localised = Readonly<Record<Lang, string>>;

export type Severity = 'Error' | 'Warning' | 'Info';

export interface Reference {
  readonly title: string;
  readonly url?: string;
}

export interface InstalledKeys {
  readonly paths: readonly string[];
  readonly view: RegistryView;
}

/** What a rule needs the collector to gather. */
export interface CollectionNeeds {
  readonly registry: readonly ManifestRegistryEntry[];
  readonly services: readonly string[];
  readonly files: readonly ManifestFileEntry[];
}

/** JSON-serialisable facts the verdict rests on. */
export type Evidence = Readonly<Record<string, unknown>>;

/** One normalised configuration fact: a JSON scalar, or a sorted list of text. */
export type FactValue = string | number | boolean | null | readonly string[];

/**
 * The normalised configuration a rule's verdict rests on, one field per fact (flat, so two
 * servers can be compared field by field). Equal configurations give equal facts.
 */
export type Facts = Readonly<Record<string, FactValue>>;

/** A configuration fingerprint: the facts and the hash that names them (`sha256:` + hex of their canonical JSON). */
export interface Fingerprint {
  readonly hash: string;
  readonly facts: Facts;
}

/** What `evaluate` returns. */
export interface RuleOutcome {
  readonly status: Status;
  readonly reasonCode: string;
  readonly message: Localised;
  /** Empty when nothing needs doing. */
  readonly remediation: readonly Localised[];
  readonly evidence: Evidence;
}

export interface Rule {
  readonly id: string;
  /** Bumped whenever the logic or texts change; stored with every result. */
  readonly version: string;
  readonly title: Localised;
  /** Why the check matters (Wazuh's "rationale"). */
  readonly rationale: Localised;
  /** The severity of the rule's worst finding. */
  readonly severity: Severity;
  readonly references: readonly Reference[];
  /**
   * The rule has a guide, docs/rules/<id>.md, with a section per reason code (what it means, what
   * to do); each result then links to its section first.
   */
  readonly guide?: boolean;
  /** Every reason code the rule can give, with the status it goes with. */
  readonly reasonCodes: Readonly<Record<string, Status>>;
  readonly needs: CollectionNeeds;
  /**
   * Optional: the registry keys that tell whether the rule's product is installed (none of them
   * there: the rule does not apply), and the view the product writes them to on 64-bit Windows.
   * Partial data, such as a .reg export of one branch, must cover every one of them (or hold one)
   * before their absence is believed: the key left out could be the one the product uses.
   */
  readonly installedKeys?: InstalledKeys;
  evaluate(snapshot: NormalisedSnapshot): RuleOutcome;
  /**
   * Optional: the configuration facts the verdict rests on, for fleet drift. Pure like
   * `evaluate`, and never throws for a snapshot the contract accepts.
   */
  configurationFacts?(snapshot: NormalisedSnapshot): Facts;
}

/** A rule's outcome with the rule's identity attached, as stored and served. */
export interface RuleResult extends RuleOutcome {
  readonly ruleId: string;
  readonly ruleVersion: string;
  readonly title: Localised;
  readonly severity: Severity;
  readonly references: readonly Reference[];
  /** Present when the rule declares configuration facts. */
  readonly fingerprint?: Fingerprint;
}

/** A result in one language (its texts picked out), the shape the CLI and the HTTP API print. */
export type LocalisedResult = Omit<RuleResult, 'title' | 'message' | 'remediation'> & {
  readonly title: string;
  readonly message: string;
  readonly remediation: readonly string[];
};
