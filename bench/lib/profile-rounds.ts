// Cutting a V8 CPU profile to the timed rounds of a run. A whole run's profile also holds the
// enrolment and the projector's drains between rounds, which show under the request's frames after
// an await, so only the samples inside the rounds say what a post costs. V8 dates its samples in
// microseconds of the monotonic clock, the one process.hrtime reads in the load generator.

export interface ProfileFrame {
  readonly functionName: string;
  readonly url: string;
}

export interface ProfileNode {
  readonly id: number;
  readonly callFrame: ProfileFrame;
  readonly children?: readonly number[];
}

/** The parts of a `.cpuprofile` this reads. */
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** A timed round, in microseconds of the monotonic clock. */
export interface Span {
  readonly fromUs: number;
  readonly toUs: number;
}

export interface SpanCost {
  /** Milliseconds sampled inside the spans, idle time left out. */
  readonly sampledMs: number;
  /** Milliseconds by the part the innermost frame belongs to. */
  readonly self: ReadonlyMap<string, number>;
  /** Milliseconds by each of the service's functions anywhere on the stack (once per sample). */
  readonly inclusive: ReadonlyMap<string, number>;
}

/** What a frame's time is charged to: V8's own work, an npm package, a module of the service or bench, or a part of Node. */
export function partOf(frame: ProfileFrame): string {
  const { functionName, url } = frame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)' || functionName === '(program)') return functionName.slice(1, -1);
  const pkg = /node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(url);
  if (pkg) return `npm:${pkg[1]}`;
  const own = /dist\/(src|bench)\/(.+)\.js$/.exec(url);
  if (own) return `${own[1]}:${own[2]}`;
  const internal = /^node:internal\/([^/]+)/.exec(url);
  if (internal) return `node:${internal[1]}`;
  if (url.startsWith('node:')) return url;
  return url ? 'other' : `native:${functionName || '?'}`;
}

/** The service's function a frame is, as `module:function`, or undefined for any other code. */
function serviceFunction(frame: ProfileFrame): string | undefined {
  const m = /dist\/src\/(.+)\.js$/.exec(frame.url);
  return m && frame.functionName ? `${m[1]}:${frame.functionName}` : undefined;
}

const add = (map: Map<string, number>, key: string, ms: number) => map.set(key, (map.get(key) ?? 0) + ms);

/** Adds each of `from`'s milliseconds into `into`: the costs of several profiles together. */
export function addCosts(into: Map<string, number>, from: ReadonlyMap<string, number>): void {
  for (const [key, ms] of from) add(into, key, ms);
}

/** The profile's samples inside the spans: each sample counts until the next one is taken. */
export function costInSpans(profile: CpuProfile, spans: readonly Span[]): SpanCost {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let sampledMs = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (!spans.some((s) => at >= s.fromUs && at < s.toUs)) continue;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const part = partOf(node.callFrame);
    if (part === 'idle') continue;
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    sampledMs += ms;
    add(self, part, ms);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const fn = serviceFunction(byId.get(id)!.callFrame);
      if (fn !== undefined && !seen.has(fn)) {
        seen.add(fn);
        add(inclusive, fn, ms);
      }
    }
  }
  return { sampledMs, self, inclusive };
}
