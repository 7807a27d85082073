// Offline use case: a snapshot document in, every rule's verdict out. Shared by the CLI and the
// ingest path so both give the same answer for the same snapshot.
import { evaluateAll } from '../rules/registry';
import type { Rule, RuleResult } from '../rules/types';
import type { NormalisedSnapshot } from '../snapshot/normalise';
import { parseSnapshot, type ContractIssue, type ParseOptions } from '../snapshot/parse';
import type { Snapshot } from '../snapshot/schema';

export type EvaluateDocumentResult =
  | { readonly ok: true; readonly snapshot: Snapshot; readonly normalised: NormalisedSnapshot; readonly results: RuleResult[] }
  | { readonly ok: false; readonly issues: readonly ContractIssue[] };

export function evaluateDocument(document: unknown, options: ParseOptions & { rules?: readonly Rule[] } = {}): EvaluateDocumentResult {
  const parsed = parseSnapshot(document, options);
  if (!parsed.ok) return parsed;
  return { ok: true, snapshot: parsed.snapshot, normalised: parsed.normalised, results: evaluateAll(parsed.normalised, options.rules) };
}
