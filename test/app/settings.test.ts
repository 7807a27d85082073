// Every app setting read at start: its default when unset or empty, the values it takes, and the
// one sentence that stops the app for a value it cannot use (naming the setting and the value).
// The Bicep's own bounds of the stale interval are checked in settings-stale.test.ts.
import { describe, expect, it } from 'vitest';
import { loadSettings, MIN_TOKEN_SECRET_CHARS, SETTING_NAMES, STALE_AFTER_RANGE } from '../../src/app/settings';

describe('loadSettings: defaults', () => {
  it('gives every setting its documented default from an empty environment, and from empty values', () => {
    const defaults = {
      storageConnectionString: undefined,
      tableEndpoint: undefined,
      managedIdentityClientId: undefined,
      tablePrefix: '',
      ingestKeys: [],
      readerKeys: [],
      adminKeys: [],
      maxSnapshotBytes: 1024 * 1024,
      staleAfterMinutes: 180,
      waiverMaxDays: 180,
      reevaluateBatchSize: 50,
      enrolmentSecrets: [],
      allowSharedIngestKeys: false,
      rateLimitBurst: 30,
      rateLimitPerMinute: 6,
      continuationTokenSecret: undefined,
      reenrolment: 'open',
      projectorSchedule: '*/5 * * * * *',
      rememberedRowsMb: 32,
    };
    expect(loadSettings({})).toEqual(defaults);
    const empty = Object.fromEntries(SETTING_NAMES.map((name) => [name, '']));
    expect(loadSettings(empty)).toEqual(defaults);
  });

  it('takes the storage, identity and prefix settings as they are', () => {
    const s = loadSettings({
      POSTURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true',
      POSTURE_TABLE_ENDPOINT: 'https://acct.table.core.windows.net',
      AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000001',
      POSTURE_TABLE_PREFIX: 'Prod',
    });
    expect(s).toMatchObject({
      storageConnectionString: 'UseDevelopmentStorage=true',
      tableEndpoint: 'https://acct.table.core.windows.net',
      managedIdentityClientId: '00000000-0000-0000-0000-000000000001',
      tablePrefix: 'Prod',
    });
  });
});

describe('key lists', () => {
  it('split on commas, semicolons and white space, dropping empty entries', () => {
    const s = loadSettings({
      POSTURE_INGEST_KEYS: 'a,b',
      POSTURE_READER_KEYS: ' r1 ; r2\n r3 ',
      POSTURE_ADMIN_KEYS: ',,admin,,',
      POSTURE_ENROLMENT_SECRETS: 'old\tnew',
    });
    expect(s.ingestKeys).toEqual(['a', 'b']);
    expect(s.readerKeys).toEqual(['r1', 'r2', 'r3']);
    expect(s.adminKeys).toEqual(['admin']);
    expect(s.enrolmentSecrets).toEqual(['old', 'new']);
  });
});

describe('whole numbers', () => {
  const positive = [
    ['POSTURE_MAX_SNAPSHOT_BYTES', 'maxSnapshotBytes'],
    ['POSTURE_WAIVER_MAX_DAYS', 'waiverMaxDays'],
    ['POSTURE_REEVALUATE_BATCH_SIZE', 'reevaluateBatchSize'],
    ['POSTURE_RATE_LIMIT_BURST', 'rateLimitBurst'],
    ['POSTURE_RATE_LIMIT_PER_MINUTE', 'rateLimitPerMinute'],
  ] as const;

  it('take any whole number from 1', () => {
    for (const [name, field] of positive) {
      expect(loadSettings({ [name]: '1' })[field], name).toBe(1);
      expect(loadSettings({ [name]: '7' })[field], name).toBe(7);
    }
  });

  it('refuse 0, negatives, fractions and words in one sentence naming the setting and the value', () => {
    for (const [name] of positive) {
      for (const bad of ['0', '-3', '2.5', 'ten', 'NaN']) {
        expect(() => loadSettings({ [name]: bad }), `${name}=${bad}`).toThrow(`Setting ${name} must be a positive integer, not ${JSON.stringify(bad)}.`);
      }
    }
  });

  it('cap the re-evaluation batch at 500 servers', () => {
    expect(loadSettings({ POSTURE_REEVALUATE_BATCH_SIZE: '500' }).reevaluateBatchSize).toBe(500);
    expect(loadSettings({ POSTURE_REEVALUATE_BATCH_SIZE: '501' }).reevaluateBatchSize).toBe(500);
    expect(loadSettings({ POSTURE_REEVALUATE_BATCH_SIZE: '499' }).reevaluateBatchSize).toBe(499);
  });

  it('let the remembered rows be 0 (none), and refuse below it', () => {
    expect(loadSettings({ POSTURE_REMEMBERED_ROWS_MB: '0' }).rememberedRowsMb).toBe(0);
    expect(loadSettings({ POSTURE_REMEMBERED_ROWS_MB: '64' }).rememberedRowsMb).toBe(64);
    expect(() => loadSettings({ POSTURE_REMEMBERED_ROWS_MB: '-1' })).toThrow('Setting POSTURE_REMEMBERED_ROWS_MB must be 0 or a positive integer, not "-1".');
  });
});

describe('POSTURE_ALLOW_SHARED_INGEST_KEYS', () => {
  const allow = (v: string) => loadSettings({ POSTURE_ALLOW_SHARED_INGEST_KEYS: v }).allowSharedIngestKeys;

  it('reads true, 1, yes and false, 0, no in any case and with spaces around; blank is false', () => {
    for (const v of ['true', 'TRUE', ' True ', '1', 'yes', 'YES']) expect(allow(v), v).toBe(true);
    for (const v of ['false', 'False', ' 0 ', 'no', 'NO', '   ']) expect(allow(v), v).toBe(false);
  });

  it('refuses anything else, whole words only', () => {
    for (const bad of ['on', 'off', 'truex', 'xtrue', 'xfalse', 'falsey', '10', 'yes please', '2', 'nope']) {
      expect(() => allow(bad), bad).toThrow(`Setting POSTURE_ALLOW_SHARED_INGEST_KEYS must be true or false, not ${JSON.stringify(bad)}.`);
    }
  });
});

describe('POSTURE_CONTINUATION_TOKEN_SECRET', () => {
  const secretOf = (v: string) => loadSettings({ POSTURE_CONTINUATION_TOKEN_SECRET: v }).continuationTokenSecret;

  it(`takes a secret of ${MIN_TOKEN_SECRET_CHARS} characters or more, trimmed; blank means none`, () => {
    const exact = 'x'.repeat(MIN_TOKEN_SECRET_CHARS);
    expect(secretOf(exact)).toBe(exact);
    expect(secretOf(`  ${exact}y \n`)).toBe(`${exact}y`);
    expect(secretOf('   ')).toBeUndefined();
  });

  it('refuses a shorter one, counting the characters after trimming', () => {
    const short = 'x'.repeat(MIN_TOKEN_SECRET_CHARS - 1);
    for (const bad of [short, `   ${short}   `]) {
      expect(() => secretOf(bad)).toThrow(`Setting POSTURE_CONTINUATION_TOKEN_SECRET must be at least ${MIN_TOKEN_SECRET_CHARS} characters long.`);
    }
  });

  it('never puts the secret in its sentence', () => {
    const short = 'hunter2-but-longer';
    expect(() => secretOf(short)).toThrow(expect.objectContaining({ message: expect.not.stringContaining(short) }));
  });
});

describe('POSTURE_REENROLMENT', () => {
  const policy = (v: string) => loadSettings({ POSTURE_REENROLMENT: v }).reenrolment;

  it('takes open or approval in any case, with spaces around', () => {
    expect(policy('open')).toBe('open');
    expect(policy(' Approval ')).toBe('approval');
    expect(policy('APPROVAL')).toBe('approval');
    expect(policy('  ')).toBe('open');
  });

  it('refuses anything else, naming the choices', () => {
    for (const bad of ['closed', 'approve', 'open,approval']) {
      expect(() => policy(bad), bad).toThrow(`Setting POSTURE_REENROLMENT must be one of open, approval, not ${JSON.stringify(bad)}.`);
    }
  });
});

describe('POSTURE_PROJECTOR_SCHEDULE', () => {
  const schedule = (v: string) => loadSettings({ POSTURE_PROJECTOR_SCHEDULE: v }).projectorSchedule;

  it('takes six NCRONTAB fields and joins them with one space', () => {
    expect(schedule('*/10 * * * * *')).toBe('*/10 * * * * *');
    expect(schedule('  0   */2 8-18 * * Mon-Fri ')).toBe('0 */2 8-18 * * Mon-Fri');
    expect(schedule('0,30 * * * Jan Sun')).toBe('0,30 * * * Jan Sun');
    expect(schedule('  ')).toBe('*/5 * * * * *');
  });

  it('refuses five or seven fields, and fields that are not numbers, ranges, steps or names', () => {
    for (const bad of ['*/5 * * * *', '*/5 * * * * * *', '*/5 * * * * ?', '0 0 12 * * Monday', '0 0 12 * * Mo', 'every five seconds or so thanks', '0 0 12 * * Mon-Friday', '0 x5 * * * *', '5x * * * * *']) {
      expect(() => schedule(bad), bad).toThrow(
        `Setting POSTURE_PROJECTOR_SCHEDULE must be an NCRONTAB schedule of six fields, seconds first (e.g. "*/5 * * * * *"), not ${JSON.stringify(bad)}.`,
      );
    }
  });
});

// The stale interval is bounded where it stays meaningful: collectors on the installer's schedule
// post up to 110 minutes apart, so anything under 120 minutes marks servers stale that are not;
// past 30 days the last-seen index's hours leave the range of a date.
describe('POSTURE_STALE_AFTER_MINUTES', () => {
  const load = (value?: string) => loadSettings({ POSTURE_STALE_AFTER_MINUTES: value });

  it('defaults to 180 and takes any whole number of minutes from 120 to 43200', () => {
    expect(STALE_AFTER_RANGE).toEqual({ min: 120, max: 43_200 });
    expect(load().staleAfterMinutes).toBe(180);
    expect(load('').staleAfterMinutes).toBe(180);
    for (const v of [120, 181, 1440, 43_200]) expect(load(String(v)).staleAfterMinutes).toBe(v);
  });

  it('refuses what would mark servers on schedule stale, or break the index, in one sentence', () => {
    for (const v of ['15', '60', '119', '43201', '200000000000', '1e11', '180.5', 'three hours']) {
      expect(() => load(v), v).toThrow(
        `Setting POSTURE_STALE_AFTER_MINUTES must be a whole number of minutes from 120 to 43200 (collectors on schedule post up to 110 minutes apart), not ${JSON.stringify(v)}.`,
      );
    }
  });
});
