// Offline use case: a snapshot document in, every rule's verdict out. Shared by the CLI and the
// ingest path so both give the same answer for the same snapshot.
import { evaluateAll } from '../rules/registry';
import type { Rule, RuleResult } from '../rules/types';
import type { NormalisedSnapshot } from '../snapshot/normalise';
import { parseSnapshot, type ParseFailure, type ParseOptions, type ParseResult } from '../snapshot/parse';
import type { Snapshot } from '../snapshot/schema';
import { servedUrl } from './route-prefix';

export type EvaluateDocumentResult =
  | { readonly ok: true; readonly snapshot: Snapshot; readonly normalised: NormalisedSnapshot; readonly results: RuleResult[] }
  // A failure keeps what parsing found (its issues, and a future collectedAt apart from them).
  | ParseFailure;

/**
 * Validation must answer every input with issues, never an exception (a property test holds the
 * schema to that). Should a future check still throw, the document is refused as invalid (400,
 * CLI exit 2) rather than failing the service: whatever made the validator throw is not a snapshot.
 */
function parseSafely(document: unknown, options: ParseOptions): ParseResult {
  try {
    return parseSnapshot(document, options);
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { ok: false, issues: [{ path: '', message: `the document could not be validated (${detail})` }] };
  }
}

export function evaluateDocument(document: unknown, options: ParseOptions & { rules?: readonly Rule[] } = {}): EvaluateDocumentResult {
  const parsed = parseSafely(document, options);
  if (!parsed.ok) return parsed;
  // The results link their guides where the service serves them, in the CLI's output as in the API's.
  return { ok: true, snapshot: parsed.snapshot, normalised: parsed.normalised, results: evaluateAll(parsed.normalised, options.rules, servedUrl) };
}
