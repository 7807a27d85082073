// Mutation testing of the rule core, the snapshot contract and the service's pure helpers (no
// storage, no network) against their own in-process tests (`npm run mutation`; not part of
// `npm test` or CI). On 2 cores a full run takes hours: about 1,100 of its 4,800 mutants are
// static (built when a module loads: the snapshot schema, message tables), and each of those
// runs every test. `npm run mutation:quick` (stryker.quick.config.mjs) leaves them out and
// lists the survivors that count (docs/testing.md). The report goes to test-results/mutation/ (ignored by git).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.mts', related: false },
  mutate: [
    'src/rules/**/*.ts',
    'src/snapshot/**/*.ts',
    'src/app/{iso-time,server-names,rate-limit,present,csv,free-text,recent-set,removal-text,projection-work,log-records,reevaluation-note,pending-reevaluation,never-posted,drift,settings,auth,preconditions,result-records,retired-results,errors,snapshot-rejections,http-io,serve-route,removal-leftovers,projection-alerts,held-entries,projection-truth,own-writes,waiver-body,waiver-cover,baseline-body,lifecycle-api,keys-api,drift-api,http-api,findings,drift-queries,lifecycle-queries,stale-hosts,ingest,staged-raw-sweep,server-removal,projection-writes,projection-one-by-one,reevaluate,baselines,export-results,layout-migration,enrolment,waivers,drift-projection,evaluate-document,health,queries,reenrolment,projector,projector-lease,projector-backlog}.ts',
    'src/store/{keys,columns,cursor,filters,server-row-cache,raw-slots,key-partition,host-rows,snapshot-order,projector-fence,entities,transactions,recorded-empty,history-walk,errors,shared-transaction,records,contention,rule-index-store,events-store,outbox-store,staged-raw-store,lifecycle-store,waivers-store,hosts-store}.ts',
  ],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  // Added to a mutant's own tests' time: a mutant that loops forever (a parser's step mutated
  // away) is stopped after this. 60 s made each of a run's 20-odd such mutants cost a minute.
  timeoutMS: 15_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'test-results/mutation/index.html' },
  jsonReporter: { fileName: 'test-results/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, reportTests: false, reportMutants: false },
  // The PowerShell and Bicep tools (hundreds of MB, or a symlink in a helper's clone) are not
  // read by the mutated tests; copying them into every sandbox only costs time or fails.
  ignorePatterns: ['/.tools'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  thresholds: { high: 90, low: 80, break: null },
};
