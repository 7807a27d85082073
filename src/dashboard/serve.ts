// The dashboard route: the page and its files, with the
// headers that make it safe to open: a strict Content-Security-Policy (own scripts and styles only,
// no inline code, Trusted Types so no string can reach innerHTML, no framing), nosniff and no
// referrer. The files hold no secret; the data behind them needs a reader key on every call.
import { loadAssets, publicDir, type Asset } from './assets';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export interface DashboardRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: { get(name: string): string | null };
  readonly params: Readonly<Record<string, string | undefined>>;
}

/** Shaped like @azure/functions' HttpResponseInit. */
export interface DashboardResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array | string;
}

const PAGE = 'index.html';

function text(status: number, message: string): DashboardResponse {
  return { status, headers: { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' }, body: message };
}

/** Accept-Encoding names gzip without q=0. */
function acceptsGzip(header: string | null): boolean {
  return (header ?? '').split(',').some((part) => {
    const [coding, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return coding === 'gzip' && (q === undefined || Number(q.slice(2)) > 0);
  });
}

export class DashboardFiles {
  constructor(private readonly assets: ReadonlyMap<string, Asset>) {}

  serve(req: DashboardRequest): DashboardResponse {
    const name = req.params.asset;
    if (!name) {
      // The page refers to its files as dashboard/<file>: that only resolves from …/dashboard.
      if (new URL(req.url, 'http://localhost').pathname.endsWith('/')) {
        return { status: 308, headers: { ...SECURITY_HEADERS, Location: '../dashboard', 'Cache-Control': 'no-store' } };
      }
      const page = this.assets.get(PAGE);
      if (!page) return text(500, 'The dashboard is not in this deployment: its files (dist/src/dashboard/public) are missing; build with "npm run build".');
      return this.#send(page, req);
    }
    const asset = name === PAGE ? undefined : this.assets.get(name);
    // Quoted as JSON, so a control character in the name is shown escaped, never sent as is.
    if (!asset) return text(404, `The dashboard has no file ${JSON.stringify(name.slice(0, 100))}.`);
    return this.#send(asset, req);
  }

  #send(asset: Asset, req: DashboardRequest): DashboardResponse {
    const headers: Record<string, string> = { ...SECURITY_HEADERS, 'Content-Type': asset.type, 'Cache-Control': 'no-cache', ETag: asset.etag, Vary: 'Accept-Encoding' };
    const inm = req.headers.get('if-none-match');
    if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === asset.etag)) return { status: 304, headers };
    if (acceptsGzip(req.headers.get('accept-encoding'))) return { status: 200, headers: { ...headers, 'Content-Encoding': 'gzip' }, body: asset.gzip };
    return { status: 200, headers, body: asset.body };
  }
}

let files: DashboardFiles | undefined;

/** This worker's dashboard files, read from the build output on first use. */
export function getDashboardFiles(): DashboardFiles {
  files ??= new DashboardFiles(loadAssets(publicDir()));
  return files;
}
