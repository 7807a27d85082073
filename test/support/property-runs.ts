// How many cases a property test runs: all of them under `npm test`; a third under mutation
// testing, where every mutant the test covers runs it again (Stryker's workers set
// STRYKER_MUTATOR_WORKER). The seeds stay fixed, so a run is the same run every time.
export function propertyRuns(numRuns: number): number {
  return process.env.STRYKER_MUTATOR_WORKER === undefined ? numRuns : Math.ceil(numRuns / 3);
}
