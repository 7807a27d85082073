// The tests `npm run mutation` runs against mutants of src/rules, src/snapshot and the pure
// helpers of src/app and src/store (stryker.config.mjs): those that exercise them in-process. Not
// the service tests (Azurite, HTTP) and not the built-CLI test, which runs dist/ and so never sees
// a mutant.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'test/rules/**/*.test.ts',
      'test/snapshot/**/*.test.ts',
      'test/collector/{reg-export,reg-export-stream,reg-export-stream-property,reg-export-encodings,import-reg,import-reg-parity,import-reg-partial,import-reg-reg32,import-reg-stdin,examples}.test.ts',
      'test/app/{iso-time,server-names,trust-units,rate-limit,present,projection-work,pure-helpers,reevaluation-note,pending-reevaluation,never-posted,drift,raw-slots,settings,auth,preconditions,result-records,snapshot-rejections,http-io,serve-route,routes,removal-leftovers,projection-alerts,held-entries,projection-truth,own-writes,waiver-body,waiver-cover,baseline-body,lifecycle-api,keys-api,drift-api,http-api,findings,drift-queries,lifecycle-queries,stale-hosts,ingest,staged-raw-sweep,server-removal,projection-writes,projection-one-by-one,projection-probes,reevaluate,baselines,export-results,layout-migration,layout-migration-runs,enrolment,waivers,drift-projection,evaluate-document,queries,reenrolment,projector,projector-lease,projector-backlog}.test.ts',
      'test/store/{filters,server-row-cache,cursor,columns,keys,key-partition,host-rows,projector-fence,entities,transactions,recorded-empty,history-walk,errors,shared-transaction,records,contention,rule-index-store,events-store,outbox-store,staged-raw-store,lifecycle-store,waivers-store,hosts-store}.test.ts',
    ],
    exclude: ['test/rules/mcafee-port25-blocked/cli.test.ts'],
    testTimeout: 30_000,
    setupFiles: ['test/support/property-seed.ts'],
  },
});
