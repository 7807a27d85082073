// Types of failed-tests.cjs for the TypeScript tests.
export interface FailedTest {
  readonly file: string;
  readonly name: string;
  readonly error: string[];
}
export declare function failedTests(report: unknown, root?: string): FailedTest[];
export declare function describe(reportPaths: string[], root?: string): string[];
export declare function failedFiles(reportPath: string, root?: string): string[];
export declare function again(firstPath: string, secondPath: string, root?: string): string[];
