// The `fleet-posture` command line: one small module per command, dispatched here.
import { evaluateCommand, evaluateHelp } from './evaluate';
import { importRegCommand, importRegHelp } from './import-reg';
import { EXIT, processIo, UsageError, type Io } from './io';
import { manifestCommand, manifestHelp } from './manifest';
import { schemaCommand, schemaHelp } from './schema';

interface Command {
  readonly run: (args: string[], io: Io) => Promise<number>;
  readonly help: string;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  evaluate: { run: evaluateCommand, help: evaluateHelp },
  'import-reg': { run: importRegCommand, help: importRegHelp },
  manifest: { run: manifestCommand, help: manifestHelp },
  schema: { run: schemaCommand, help: schemaHelp },
};

const USAGE = `Usage: fleet-posture <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.help.split('\n')[2] ?? ''}`)
  .join('\n')}

Run "fleet-posture <command> --help" for a command's options.`;

/**
 * Node's own argument errors, told as one sentence like the commands' own (its messages run to
 * three sentences, or quote "-x" without closing the quote).
 */
function usageProblem(e: Error & { code?: string }): string {
  if (e instanceof UsageError) return e.message;
  const option = /'(-{1,2}[A-Za-z][\w-]*)/.exec(e.message)?.[1] ?? 'an option';
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${option} (a file name that begins with "-" goes after "--")`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    return /does not take an argument/.test(e.message) ? `${option} takes no value` : `${option} needs a value (one that begins with "-" is written ${option}=-value)`;
  }
  return e.message.split('\n')[0] ?? e.message;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    io.err(`fleet-posture: name a command\n${USAGE}\n`);
    return EXIT.badInput;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(USAGE + '\n');
    return EXIT.ok;
  }
  // Own keys only: a plain index would also find what every object inherits (constructor, toString).
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.err(`fleet-posture: unknown command ${JSON.stringify(name)}\n${USAGE}\n`);
    return EXIT.badInput;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.help + '\n');
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`fleet-posture ${name}: ${usageProblem(e as Error & { code?: string })}\n${command.help}\n`);
      return EXIT.badInput;
    }
    io.err(`fleet-posture ${name}: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT.failure;
  }
}
