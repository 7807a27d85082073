// The report of `evaluate --format text`, for a person: per rule the verdict, the message, what to
// do and where the guide explains it. The evidence is data for a program or a support case, so it
// is printed only with --evidence.
import { guideAnchor } from '../rules/guide';
import type { Lang, LocalisedResult } from '../rules/types';

const LABELS: Record<Lang, { collected: string; remediation: string; evidence: string; evidenceHint: string; guide: string; references: string; snapshot: string }> = {
  en: {
    collected: 'collected',
    remediation: 'What to do',
    evidence: 'Evidence',
    evidenceHint: 'Evidence: not shown (--evidence prints it in full)',
    guide: 'Guide',
    references: 'References',
    snapshot: 'snapshot',
  },
  ja: {
    collected: '収集日時',
    remediation: '対処方法',
    evidence: '根拠',
    evidenceHint: '根拠: 省略 (--evidence ですべて表示)',
    guide: '解説',
    references: '参考資料',
    snapshot: 'スナップショット',
  },
};

/** What the report needs besides the verdicts. */
export interface ReportOptions {
  readonly lang: Lang;
  /** Print every result's evidence as indented JSON. */
  readonly evidence?: boolean;
  /** The rules whose guide (docs/rules/<id>.md) explains each reason code. */
  readonly guides?: ReadonlySet<string>;
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

export function textReport(
  head: { server: string; hostName: string; snapshotId: string; collectedAt: string },
  results: readonly LocalisedResult[],
  options: ReportOptions,
): string {
  const L = LABELS[options.lang];
  const lines: string[] = [];
  lines.push(`${head.hostName} (${head.server})  ${L.snapshot} ${head.snapshotId}  ${L.collected} ${head.collectedAt}`);
  for (const r of results) {
    lines.push('');
    lines.push(`[${r.status.toUpperCase()}] ${r.ruleId} — ${r.title}  (${r.reasonCode})`);
    lines.push(indent(r.message, '  '));
    if (r.remediation.length > 0) {
      lines.push(`  ${L.remediation}:`);
      r.remediation.forEach((t, i) => lines.push(indent(`${i + 1}. ${t}`, '    ')));
    }
    // The guide as it sits in the repository (the service serves the same text as a page).
    if (options.guides?.has(r.ruleId)) lines.push(`  ${L.guide}: docs/rules/${r.ruleId}.md#${guideAnchor(r.reasonCode)}`);
    const outside = r.references.filter((ref) => ref.url === undefined || /^https?:/i.test(ref.url));
    if (outside.length > 0 && r.status !== 'Pass' && r.status !== 'NotApplicable') {
      lines.push(`  ${L.references}:`);
      for (const ref of outside) lines.push(`    - ${ref.title}${ref.url ? ` <${ref.url}>` : ''}`);
    }
    if (options.evidence) {
      lines.push(`  ${L.evidence}:`);
      lines.push(indent(JSON.stringify(r.evidence, null, 2), '    '));
    } else lines.push(`  ${L.evidenceHint}`);
  }
  return lines.join('\n') + '\n';
}
