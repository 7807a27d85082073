// Picking one language out of a result, and reading a language from Accept-Language or --lang.
import { LANGUAGES, type Lang, type LocalisedResult, type RuleResult } from './types';

export function localiseResult(r: RuleResult, lang: Lang): LocalisedResult {
  return {
    ruleId: r.ruleId,
    ruleVersion: r.ruleVersion,
    title: r.title[lang],
    severity: r.severity,
    status: r.status,
    reasonCode: r.reasonCode,
    message: r.message[lang],
    remediation: r.remediation.map((t) => t[lang]),
    references: r.references,
    evidence: r.evidence,
  };
}

/**
 * The best language for an Accept-Language header (RFC 9110 weights); English when nothing
 * matches or the header is absent.
 */
export function negotiateLanguage(header: string | null | undefined): Lang {
  if (!header) return 'en';
  let best: { lang: Lang; q: number } | undefined;
  for (const part of header.split(',')) {
    // Stryker disable next-line StringLiteral: split always yields a first element, so the default is never taken.
    const [tag = '', ...params] = part.split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) continue;
    // Stryker disable next-line StringLiteral: split always yields a first element, so the default is never taken.
    const primary = tag.trim().toLowerCase().split('-')[0] ?? '';
    const lang = (LANGUAGES as readonly string[]).includes(primary) ? (primary as Lang) : undefined;
    if (lang && (!best || q > best.q)) best = { lang, q };
  }
  return best?.lang ?? 'en';
}

export function isLang(value: string): value is Lang {
  return (LANGUAGES as readonly string[]).includes(value);
}
