// `fleet-posture manifest`: the collection manifest derived from the loaded rules.
import { buildManifest } from '../rules/manifest';
import { EXIT, UsageError, type Io } from './io';

export const manifestHelp = `Usage: fleet-posture manifest

Prints the collection manifest (what collectors read) derived from the loaded rules.`;

export async function manifestCommand(args: string[], io: Io): Promise<number> {
  if (args.length > 0) throw new UsageError('manifest takes no arguments');
  io.out(JSON.stringify(buildManifest(), null, 2) + '\n');
  return EXIT.ok;
}
