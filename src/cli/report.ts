// The human-readable report of `evaluate --format text`.
import type { Lang, LocalisedResult } from '../rules/types';

const LABELS: Record<Lang, { collected: string; remediation: string; evidence: string; references: string; snapshot: string }> = {
  en: { collected: 'collected', remediation: 'What to do', evidence: 'Evidence', references: 'References', snapshot: 'snapshot' },
  ja: { collected: '収集日時', remediation: '対処方法', evidence: '根拠', references: '参考資料', snapshot: 'スナップショット' },
};

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

export function textReport(
  head: { server: string; hostName: string; snapshotId: string; collectedAt: string },
  results: readonly LocalisedResult[],
  lang: Lang,
): string {
  const L = LABELS[lang];
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
    lines.push(`  ${L.evidence}:`);
    lines.push(indent(JSON.stringify(r.evidence, null, 2), '    '));
    if (r.references.length > 0 && r.status !== 'Pass' && r.status !== 'NotApplicable') {
      lines.push(`  ${L.references}:`);
      for (const ref of r.references) lines.push(`    - ${ref.title}${ref.url ? ` <${ref.url}>` : ''}`);
    }
  }
  return lines.join('\n') + '\n';
}
