// What still names a server once it is removed: a rule's drift baseline and waivers for that server
// stay as they are (an admin's decision, with its own audit trail), so the removal's answer says
// which, and how to end them, instead of leaving the admin to find out from the drift or the list.
import type { Rule } from '../rules/types';
import type { Baselines } from './baselines';
import { measuredAgainstLargest } from './drift-queries';
import { messageOf } from './errors';
import { iso } from './present';
import { ROUTE_BASE } from './route-prefix';
import { routeUrl } from './routes';
import type { Waivers } from './waivers';

export type RemovalWarning =
  | { readonly code: 'baseline_names_removed_server'; readonly rule: string; readonly message: string }
  | { readonly code: 'waiver_names_removed_server'; readonly waiver: string; readonly message: string }
  | { readonly code: 'names_not_checked'; readonly message: string };

export interface RemovalLeftoversDeps {
  readonly rules: readonly Rule[];
  readonly baselines: Pick<Baselines, 'get'>;
  readonly waivers: Pick<Waivers, 'active'>;
}

/** The baselines and active waivers that name `server`, as warnings; a failed read is a warning too. */
export async function removalLeftovers(deps: RemovalLeftoversDeps, server: string): Promise<RemovalWarning[]> {
  const withDrift = deps.rules.filter((r) => r.configurationFacts);
  try {
    const [baselines, waivers] = await Promise.all([Promise.all(withDrift.map((r) => deps.baselines.get(r.id))), deps.waivers.active()]);
    const named = baselines.filter((b) => b?.server === server).map((b) => b!.ruleId);
    return [
      ...named.map((rule) => ({
        code: 'baseline_names_removed_server' as const,
        rule,
        message: `${server} stays the drift baseline of ${rule} with no configuration recorded any more, so ${measuredAgainstLargest(rule)}.`,
      })),
      ...waivers
        .filter((w) => w.server === server)
        .map((w) => ({
          code: 'waiver_names_removed_server' as const,
          waiver: w.id,
          message: `Waiver ${w.id} names ${server} and stays in force until ${iso(w.expiresAt)}, covering nothing unless the server posts again; end it with DELETE ${routeUrl(ROUTE_BASE, 'waivers', { id: w.id })}.`,
        })),
    ];
  } catch (error) {
    return [
      {
        code: 'names_not_checked',
        message:
          `The removal is done, but whether a drift baseline or a waiver still names ${server} could not be read (${messageOf(error)}); ` +
          `see GET ${[routeUrl(ROUTE_BASE, 'waivers'), ...withDrift.map((r) => routeUrl(ROUTE_BASE, 'baselines', { rule: r.id }))].join(' and GET ')}.`,
      },
    ];
  }
}
