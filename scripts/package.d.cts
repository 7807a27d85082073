// Types of package.cjs for the TypeScript tests.
export declare const STAGE: string;
export declare const ZIP: string;
export declare function productionPackagePaths(root?: string): string[];
export declare function stagePackage(stage?: string, root?: string): string[];
export declare function listFiles(dir: string, base?: string): string[];
export declare function zipFolder(folder?: string, zipPath?: string): Promise<string>;
