// Types of start-func.cjs for the TypeScript tests.
export declare function findFunc(searchPath?: string): string | null;
