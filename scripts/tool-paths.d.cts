// Types of tool-paths.cjs for the TypeScript tests and the vitest config.
export declare const ROOT: string;
export declare const TOOLS_DIR: string;
export declare const VERSIONS: { readonly pwsh: string; readonly pester: string; readonly bicep: string };
export declare const HOW_TO_GET_TOOLS: string;
export interface ToolPaths {
  readonly pwsh: string | null;
  readonly pester: string | null;
  readonly bicep: string | null;
}
export declare function bicepRid(platform?: string, arch?: string): string;
export declare function toolLocations(toolsDir?: string): { readonly pwsh: string; readonly pester: string; readonly bicep: string };
export declare function installedTools(toolsDir?: string): ToolPaths;
export declare function toolsRequired(env?: NodeJS.ProcessEnv): boolean;
export declare function testsWithoutTools(env?: NodeJS.ProcessEnv, log?: (line: string) => void): string[];
