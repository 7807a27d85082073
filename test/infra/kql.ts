// Compiles KQL with Kusto.Language, Microsoft's own KQL parser and semantic analyser (the one its
// KQL editors use), published on npm as @kusto/language-service-next: plain JavaScript (Bridge.NET) that defines the global `Kusto`.
// Against the schema of app-insights-schema.ts it reports what Azure would refuse when the rule is
// deployed or run: an unknown column, table or function, arguments of the wrong type, a
// `summarize by` a dynamic, and it tells which columns, of which types, the query answers.
// It proves nothing about the data: the records may still be missing, late or shaped otherwise.
// And it is lenient in places: a bool compared with a string (`success == "True"`) compiles, so
// the bool type of `success` shows only where a bool is required as such (`where success`).
import { createRequire } from 'node:module';
import { APP_INSIGHTS_TABLES } from './app-insights-schema';
import type { KqlScalar } from './app-insights-schema';

/** One diagnostic of the compiler: its code (KS142…), message and place in the query text. */
export interface KqlDiagnostic {
  readonly code: string;
  readonly severity: string;
  readonly message: string;
  readonly start: number;
  readonly length: number;
}

/** A column of the query's result, with its type as KQL names it (string, datetime, long…). */
export interface KqlColumn {
  readonly name: string;
  readonly type: string;
}

export interface KqlCompiled {
  /** Diagnostics of severity Error: Azure refuses such a query. */
  readonly errors: KqlDiagnostic[];
  /** Every other diagnostic (warnings, suggestions). */
  readonly others: KqlDiagnostic[];
  /** The result's columns in order; undefined when the query answers no table. */
  readonly columns: KqlColumn[] | undefined;
}

// The few parts of the Kusto.Language API used here. Its own typings (Kusto.Language.Bridge.d.ts,
// 1.7 MB of global declarations) are not loaded: they would weigh on every typecheck of the tests.
interface List<T> {
  readonly Count: number;
  getItem(index: number): T;
}
interface Diagnostic {
  readonly Code: string | null;
  readonly Severity: string | null;
  readonly Message: string | null;
  readonly Start: number;
  readonly Length: number;
}
interface TypeSymbol {
  readonly Name: string | null;
  readonly Columns?: List<{ readonly Name: string | null; readonly Type: TypeSymbol }>;
}
interface KustoCode {
  GetDiagnostics(): List<Diagnostic>;
  readonly ResultType: TypeSymbol | null;
}
interface GlobalState {
  WithCluster(cluster: unknown): GlobalState;
  WithDatabase(database: unknown): GlobalState;
}
interface KustoLanguage {
  readonly KustoCode: { ParseAndAnalyze(text: string, globals: GlobalState): KustoCode };
  readonly GlobalState: { readonly Default: GlobalState };
  readonly Symbols: {
    readonly ScalarTypes: Readonly<Record<string, unknown>>;
    readonly ColumnSymbol: new (name: string, type: unknown) => unknown;
    readonly TableSymbol: { readonly $ctor4: new (name: string, columns: unknown[]) => unknown };
    readonly DatabaseSymbol: { readonly ctor: new (name: string, tables: unknown[]) => unknown };
    readonly ClusterSymbol: { readonly $ctor1: new (name: string, databases: unknown[]) => unknown };
  };
}

/** The KQL type names of the schema → the property of Kusto.Language's ScalarTypes. */
const SCALAR: Readonly<Record<KqlScalar, string>> = {
  string: 'String',
  datetime: 'DateTime',
  bool: 'Bool',
  int: 'Int',
  long: 'Long',
  real: 'Real',
  dynamic: 'Dynamic',
};

let loaded: { readonly kusto: KustoLanguage; readonly globals: GlobalState } | undefined;

/** Loads Kusto.Language once (a few seconds) and builds the global state: one database, the schema's tables. */
function compiler(): { readonly kusto: KustoLanguage; readonly globals: GlobalState } {
  if (loaded) return loaded;
  const load = createRequire(__filename);
  // Bridge.NET's runtime first: the compiler's script registers its types with it.
  load('@kusto/language-service-next/bridge.js');
  load('@kusto/language-service-next/Kusto.Language.Bridge.js');
  const kusto = (globalThis as { Kusto?: { Language?: KustoLanguage } }).Kusto?.Language;
  if (!kusto) throw new Error('@kusto/language-service-next did not define the global Kusto.Language');
  const { Symbols } = kusto;
  const tables = Object.entries(APP_INSIGHTS_TABLES).map(
    ([table, columns]) =>
      new Symbols.TableSymbol.$ctor4(
        table,
        Object.entries(columns).map(([name, type]) => {
          const scalar = Symbols.ScalarTypes[SCALAR[type]];
          if (!scalar) throw new Error(`Kusto.Language has no scalar type ${type}`);
          return new Symbols.ColumnSymbol(name, scalar);
        }),
      ),
  );
  const database = new Symbols.DatabaseSymbol.ctor('applicationinsights', tables);
  const globals = kusto.GlobalState.Default.WithCluster(new Symbols.ClusterSymbol.$ctor1('component', [database])).WithDatabase(database);
  loaded = { kusto, globals };
  return loaded;
}

function items<T>(list: List<T> | undefined): T[] {
  const out: T[] = [];
  for (let i = 0; i < (list?.Count ?? 0); i++) out.push(list!.getItem(i));
  return out;
}

/** Loads the compiler now (a few seconds), e.g. in a beforeAll, so the first test does not pay for it. */
export function loadKql(): void {
  compiler();
}

/** Compiles `query` against the Application Insights schema: its diagnostics and result columns. */
export function compileKql(query: string): KqlCompiled {
  const { kusto, globals } = compiler();
  const code = kusto.KustoCode.ParseAndAnalyze(query, globals);
  const diagnostics = items(code.GetDiagnostics()).map((d) => ({
    code: d.Code ?? '',
    severity: d.Severity ?? '',
    message: d.Message ?? '',
    start: d.Start,
    length: d.Length,
  }));
  const result = code.ResultType;
  return {
    errors: diagnostics.filter((d) => d.severity === 'Error'),
    others: diagnostics.filter((d) => d.severity !== 'Error'),
    columns: result?.Columns ? items(result.Columns).map((c) => ({ name: c.Name ?? '', type: c.Type.Name ?? '' })) : undefined,
  };
}

/** A diagnostic as one line: the code, the message, and the text it points at. */
export function describeDiagnostic(query: string, d: KqlDiagnostic): string {
  return `${d.code} ${d.message} (at "${query.slice(d.start, d.start + d.length)}")`;
}
