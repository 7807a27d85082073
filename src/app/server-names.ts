// The names people give a server, turned into its id. An admin knows a server as EXCH10G; its id is
// the FQDN the snapshot sent (exch10g.corp.contoso.com). Every place that takes a server — a path,
// a list's filter, a waiver or a baseline — answers to both, and a name that fits no server, or
// more than one, is refused with the candidates: an empty list or a waiver that covers nothing
// would read as "nothing wrong with that server".
import { globMatch } from '../rules/common/glob';
import type { PostureStore } from '../store';
import { ApiError, type ApiErrorCode } from './errors';

/** Servers whose id begins with a host name that a refusal names at most. */
const MAX_CANDIDATES = 20;

/** The server a name stands for, or the servers whose id begins with it and a dot (none, or several). */
export type ServerMatch = { readonly id: string } | { readonly id?: undefined; readonly candidates: readonly string[] };

/** Why a name stands for no one server, naming the candidates. */
export function noSuchServer(name: string, candidates: readonly string[], code: ApiErrorCode = 'not_found'): ApiError {
  if (candidates.length === 0) {
    return new ApiError(code, `No server "${name}" is known: no server has that id (its FQDN, lower case) or a host name that begins one.`);
  }
  const named = candidates.length === 1 ? candidates[0] : `${candidates.slice(0, -1).join(', ')} or ${candidates.at(-1)}`;
  return new ApiError(code, `No server "${name}" is known; did you mean ${named}? Use the server id (its FQDN).`);
}

/**
 * Where servers are found by id: the Results table (servers that posted), ServerKeys (servers that
 * enrolled), or the removal markers of removed servers (create-app adapts the store's reads).
 */
export type ServerSource = Pick<PostureStore, 'serversWithPrefix' | 'hasServer'>;

export class ServerNames {
  readonly #sources: readonly ServerSource[];
  constructor(...sources: readonly ServerSource[]) {
    this.#sources = sources;
  }

  /**
   * For a name already in id form (lower case, no trailing dot): the server that has it as id, else
   * the one server whose id begins with the name and a dot, else the candidates.
   */
  async find(name: string): Promise<ServerMatch> {
    return (await this.isId(name)) ? { id: name } : this.byHostName(name);
  }

  /** Whether a server has `name` as its id: one read of that id's own partition per source. */
  async isId(name: string): Promise<boolean> {
    return (await Promise.all(this.#sources.map((s) => s.hasServer(name)))).some(Boolean);
  }

  /** As `find`, for a name no server has as its id: the servers whose id begins with it and a dot. */
  async byHostName(name: string): Promise<ServerMatch> {
    // The candidates have a read of their own, not a share of one over the name's prefix: ids like
    // exch1-a sort between exch1 and exch1.corp…, and enough of them would push them past the bound.
    const lists = await Promise.all(this.#sources.map((s) => s.serversWithPrefix(`${name}.`, MAX_CANDIDATES)));
    const candidates = [...new Set(lists.flat())].sort().slice(0, MAX_CANDIDATES);
    return candidates.length === 1 ? { id: candidates[0]! } : { candidates };
  }

  /**
   * The servers whose id a `*`/`?` pattern (lower case) matches, among the first `max` servers whose
   * id begins with the pattern's text before its first wildcard: one range read per source.
   * `atLeast`: that range held more servers than were read, so more may match.
   */
  async matching(pattern: string, max: number): Promise<{ readonly servers: readonly string[]; readonly atLeast: boolean }> {
    const prefix = pattern.slice(0, pattern.search(/[*?]|$/));
    const lists = await Promise.all(this.#sources.map((s) => s.serversWithPrefix(prefix, max)));
    const servers = [...new Set(lists.flat())].filter((id) => globMatch(pattern, id)).sort();
    return { servers, atLeast: lists.some((l) => l.length >= max) };
  }

  /** The server's id; a name that stands for no one server is an error of the given code (404 by default). */
  async resolve(name: string, code: ApiErrorCode = 'not_found'): Promise<string> {
    const match = await this.find(name);
    if (match.id !== undefined) return match.id;
    throw noSuchServer(name, match.candidates, code);
  }

  /**
   * As `resolve`, except that a name no server answers to stands for itself: the key routes, where
   * an admin may issue a key for a server before it enrols or posts. Several candidates: a 404.
   */
  async resolveOrSelf(name: string): Promise<string> {
    const match = await this.find(name);
    if (match.id !== undefined) return match.id;
    if (match.candidates.length === 0) return name;
    throw noSuchServer(name, match.candidates);
  }
}
