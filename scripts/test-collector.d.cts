// Types of test-collector.cjs for the TypeScript tests.
export interface CollectorTestRun {
  /** pwsh's exit code; null when it did not run. */
  readonly status: number | null;
  /** True when pwsh or Pester is not installed. */
  readonly missing: boolean;
  readonly output: string;
}
export declare function runCollectorTests(options?: { resultPath?: string; stdio?: 'inherit' | 'pipe' }): CollectorTestRun;
