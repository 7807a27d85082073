// Types of infra-build.cjs for the TypeScript tests.
export declare const MAIN_BICEP: string;
export declare const BUILD_OUT: string;
export declare function compileInfra(outFile?: string): { outFile: string; lintDiagnostics: number; buildDiagnostics: number };
/** The ARM template compiled from the current infra/ sources (cached per content). */
export declare function compiledTemplate(): unknown;
