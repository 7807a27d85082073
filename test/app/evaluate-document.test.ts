// One snapshot document in, every rule's verdict out, as the CLI and the ingest both call it: a
// valid document gets the verdicts of the rules asked (guides linked where the service serves
// them), an invalid one its issues, and a document that makes the validator throw is refused as
// invalid with what was thrown, never an exception.
import { describe, expect, it } from 'vitest';
import { evaluateDocument } from '../../src/app/evaluate-document';
import { sampleSnapshot } from '../snapshot/sample';
import { alphaRule, betaRule } from '../support/snapshots';

const NOW = Date.parse(sampleSnapshot().collectedAt) + 60_000;

/** A sample snapshot whose `host` throws what is given when the validator reads it. */
function throwingOnRead(thrown: unknown): unknown {
  const doc = sampleSnapshot() as unknown as Record<string, unknown>;
  Object.defineProperty(doc, 'host', {
    enumerable: true,
    get() {
      throw thrown;
    },
  });
  return doc;
}

describe('evaluateDocument', () => {
  it('answers the parsed snapshot and the verdict of each rule asked, in their order', () => {
    const r = evaluateDocument(sampleSnapshot(), { now: NOW, rules: [betaRule, alphaRule] });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.snapshot.snapshotId).toBe(sampleSnapshot().snapshotId);
    expect(r.normalised.snapshotId).toBe(sampleSnapshot().snapshotId);
    expect(r.results.map((x) => [x.ruleId, x.status])).toStrictEqual([
      ['test-beta', 'Pass'],
      ['test-alpha', 'Pass'],
    ]);
  });

  it('links the built-in rule to its guide section where the service serves it, first among its references', () => {
    const r = evaluateDocument(sampleSnapshot(), { now: NOW });
    if (!r.ok) throw new Error('the sample snapshot is valid');
    const [port25] = r.results;
    expect(port25?.references[0]?.url).toBe(`/api/dashboard/guide-mcafee-port25-blocked.html#${port25?.reasonCode.toLowerCase()}`);
  });

  it('answers the issues of an invalid document, and keeps a future collectedAt apart', () => {
    const doc = { ...sampleSnapshot(), collectedAt: new Date(NOW + 3_600_000).toISOString() };
    const r = evaluateDocument(doc, { now: NOW });
    expect(r).toMatchObject({ ok: false, issues: [{ path: 'collectedAt' }], collectedAhead: { aheadMs: 3_600_000 } });
  });

  it('refuses a document that makes the validator throw as invalid, naming the first line of the error', () => {
    expect(evaluateDocument(throwingOnRead(new Error('host is not readable\nat a stack line')), { now: NOW })).toStrictEqual({
      ok: false,
      issues: [{ path: '', message: 'the document could not be validated (host is not readable)' }],
    });
  });

  it('names a thrown value that is not an Error as text', () => {
    expect(evaluateDocument(throwingOnRead('no host here'), { now: NOW })).toStrictEqual({
      ok: false,
      issues: [{ path: '', message: 'the document could not be validated (no host here)' }],
    });
  });
});
