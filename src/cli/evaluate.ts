// `fleet-posture evaluate <snapshot.json|-> [--lang en|ja] [--format json|text]`: the offline
// analyzer. Prints every rule's verdict; an invalid snapshot gives one line per problem.
import { parseArgs } from 'node:util';
import { evaluateDocument } from '../app/evaluate-document';
import { isLang, localiseResult } from '../rules/localise';
import { RULES } from '../rules/registry';
import { EXIT, readSnapshotDocument, UsageError, type Io } from './io';
import { textReport } from './report';

export const evaluateHelp = `Usage: fleet-posture evaluate <snapshot.json | -> [--lang en|ja] [--format json|text] [--evidence]

Validates a snapshot against the wire contract and prints every rule's verdict.
  --format text   a report for a person: verdict, message, what to do, the guide section
  --evidence      with --format text, also every result's evidence in full (JSON always has it)
Exit codes: 0 evaluated, 2 invalid snapshot or usage (one line per problem on stderr).`;

export async function evaluateCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { lang: { type: 'string', default: 'en' }, format: { type: 'string', default: 'json' }, evidence: { type: 'boolean', default: false } },
  });
  const lang = values.lang ?? 'en';
  const format = values.format ?? 'json';
  if (!isLang(lang)) throw new UsageError(`--lang must be en or ja, not ${JSON.stringify(lang)}`);
  if (format !== 'json' && format !== 'text') throw new UsageError(`--format must be json or text, not ${JSON.stringify(format)}`);
  if (positionals.length !== 1) throw new UsageError('evaluate takes exactly one snapshot file (or - for standard input)');
  const file = positionals[0] as string;

  const read = await readSnapshotDocument(file, io);
  if (!read.ok) {
    io.err(`${file}: ${read.problem}\n`);
    return EXIT.badInput;
  }
  const document = read.document;

  const evaluated = evaluateDocument(document);
  if (!evaluated.ok) {
    for (const issue of evaluated.issues) io.err(`${file}: ${issue.path || '(document)'}: ${issue.message}\n`);
    return EXIT.badInput;
  }
  const results = evaluated.results.map((r) => localiseResult(r, lang));
  const server = evaluated.normalised.serverId;
  if (format === 'text') {
    io.out(
      textReport(
        { server, hostName: evaluated.snapshot.host.name, snapshotId: evaluated.snapshot.snapshotId, collectedAt: evaluated.snapshot.collectedAt },
        results,
        { lang, evidence: values.evidence === true, guides: new Set(RULES.filter((rule) => rule.guide).map((rule) => rule.id)) },
      ),
    );
  } else {
    io.out(JSON.stringify({ server, snapshotId: evaluated.snapshot.snapshotId, collectedAt: evaluated.snapshot.collectedAt, results }, null, 2) + '\n');
  }
  return EXIT.ok;
}
