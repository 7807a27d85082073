// Rules and bodies for tests of raw bodies too large for their outbox entry: the request stages
// them in a Snapshots row of their commit attempt instead.
import { randomBytes } from 'node:crypto';
import type { Rule, Status } from '../../src/rules/types';

/**
 * Rules whose status follows the PostureTest service and whose messages quote their own part of
 * the file tail. A status change carries each message twice in its outbox entry (the event and the
 * rule index row), besides the raw body: with a tail of ~800 KiB of random text the entry is too
 * large for one entity while the body alone still fits a Snapshots row. (Gzip finds no repeats
 * further apart than 32 KiB, so the copies cost as much as the text.)
 */
const PART = 30_000;
export const tailRules: Rule[] = Array.from({ length: 5 }, (_, n) => ({
  id: `test-tail-${n}`,
  version: '1.0.0',
  title: { en: `Test tail ${n}`, ja: `テスト テール ${n}` },
  rationale: { en: 'Quotes the file tail.', ja: '引用。' },
  severity: 'Warning',
  references: [],
  reasonCodes: { FromState: 'Pass' },
  needs: { registry: [], services: ['PostureTest'], files: [{ path: 'C:\\logs\\test.txt', tailBytes: 1024 * 1024 }] },
  evaluate(s) {
    const state = s.services.get('posturetest')?.state ?? 'Pass';
    const status = (['Pass', 'Warning', 'Error'].includes(state) ? state : 'Unknown') as Status;
    const tail = s.files[0]?.tail ?? '';
    const part = (i: number) => tail.slice((2 * n + i) * PART, (2 * n + i + 1) * PART);
    return { status, reasonCode: `State${status}`, message: { en: `${status} ${part(0)}`, ja: `${status} ${part(1)}` }, remediation: [], evidence: { state } };
  },
}));

/** 800 KiB of random text (about 610 KiB gzip): a body that fits a Snapshots row, not an outbox entry. */
export const bigTail = (): string => randomBytes(600 * 1024).toString('base64');
