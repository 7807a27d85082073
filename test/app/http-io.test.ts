// The HTTP edge without a host: query parameters as a hostile or careless caller writes them, the
// body reader's limits and refusals, the conditional headers' lists and the client address. The
// service tests send the same through real HTTP; these hold every parser's boundaries in-process,
// where the mutation run reaches them.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/app/errors';
import {
  causesOfKind,
  checkParams,
  clientAddress,
  decodeUtf8,
  DEFAULT_TOP,
  echoed,
  errorResponse,
  etagListed,
  EVENT_CAUSES,
  json,
  MAX_TOP,
  parseCauses,
  parseEventStatuses,
  parseFlag,
  parseJsonText,
  parseKindAndCauses,
  parseResultFilter,
  parseRule,
  parseServer,
  parseSince,
  parseStatuses,
  parseToken,
  parseTop,
  pathServer,
  readBody,
  readJsonBody,
  readJsonText,
  single,
  type ApiRequest,
  type BodySpec,
} from '../../src/app/http-io';
import { RULES } from '../../src/rules/registry';
import { InvalidContinuationTokenError } from '../../src/store';
import { apiRequest, jsonOf } from '../support/api-request';

const q = (query: string) => new URLSearchParams(query);

/** What a call throws: the error itself, so a test can read its code, status and message. */
function thrown(f: () => unknown): ApiError {
  try {
    f();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('nothing was thrown');
}

async function rejected(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('nothing was thrown');
}

const queryRefusal = (f: () => unknown): string => {
  const e = thrown(f);
  expect(e.code).toBe('invalid_query');
  expect(e.status).toBe(400);
  return e.message;
};

describe('json', () => {
  it('answers the body as UTF-8 JSON bytes, uncached, with extra headers laid over the defaults', () => {
    const r = json(201, { name: 'ü', n: 1 }, { ETag: '"4"', 'Cache-Control': 'private' });
    expect(r.status).toBe(201);
    expect(r.headers).toEqual({ 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'private', ETag: '"4"' });
    expect(r.body).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(r.body as Uint8Array).toString('utf8')).toBe('{"name":"ü","n":1}');
    expect(json(200, [1]).headers).toEqual({ 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  });

  it('answers an error with its status, its code and message, and its own headers', () => {
    const r = errorResponse(new ApiError('unsupported_media_type', 'Send it plain.', undefined, { 'Accept-Encoding': 'identity' }));
    expect(r.status).toBe(415);
    expect(r.headers['Accept-Encoding']).toBe('identity');
    expect(jsonOf(r)).toEqual({ error: 'unsupported_media_type', message: 'Send it plain.' });
  });
});

describe('clientAddress', () => {
  const from = (value: string | null) => clientAddress({ get: (name) => (name === 'x-forwarded-for' ? value : null) });

  it('is the last X-Forwarded-For entry, the one the platform appended, trimmed', () => {
    expect(from('203.0.113.9')).toBe('203.0.113.9');
    expect(from('10.0.0.1, 198.51.100.7 ,  203.0.113.9  ')).toBe('203.0.113.9');
  });

  it('is at most 64 characters, so a forged header cannot flood the record', () => {
    expect(from('x'.repeat(64))).toBe('x'.repeat(64));
    expect(from('y'.repeat(200))).toBe('y'.repeat(64));
  });

  it('is undefined without the header or with an empty last entry', () => {
    expect(from(null)).toBeUndefined();
    expect(from('')).toBeUndefined();
    expect(from('203.0.113.9, ')).toBeUndefined();
  });
});

describe('etagListed', () => {
  it('never matches when nothing is there, not even *', () => {
    expect(etagListed('*', undefined, 'weak')).toBe(false);
    expect(etagListed('"1"', undefined, 'strong')).toBe(false);
  });

  it('matches * and any listed tag, spaces around commas allowed', () => {
    expect(etagListed('*', '"7"', 'strong')).toBe(true);
    expect(etagListed('"1", "7" ,"9"', '"7"', 'strong')).toBe(true);
    expect(etagListed('"1", "9"', '"7"', 'strong')).toBe(false);
    expect(etagListed('"1", *', '"7"', 'weak')).toBe(true);
  });

  it('takes a weak tag for its strong form only when comparing weakly', () => {
    expect(etagListed('W/"7"', '"7"', 'weak')).toBe(true);
    expect(etagListed('W/"7"', '"7"', 'strong')).toBe(false);
    expect(etagListed('"7"', '"7"', 'weak')).toBe(true);
    // Only a leading W/ is a weakness marker.
    expect(etagListed('"W/7"', '"7"', 'weak')).toBe(false);
    expect(etagListed('xW/"7"', '"7"', 'weak')).toBe(false);
  });
});

describe('echoed', () => {
  it('quotes what the caller sent, cut to 100 characters', () => {
    expect(echoed('abc')).toBe('"abc"');
    expect(echoed('z'.repeat(100))).toBe(`"${'z'.repeat(100)}"`);
    expect(echoed('z'.repeat(5000))).toBe(`"${'z'.repeat(100)}"`);
  });
});

describe('checkParams', () => {
  const refusal = (query: string, allowed: readonly string[]) => {
    try {
      checkParams(q(query), allowed);
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('takes the parameters a route accepts, and the Functions host\'s own "code"', () => {
    expect(refusal('stale=true&top=5&code=abc', ['stale', 'top'])).toBeUndefined();
    expect(refusal('code=abc', [])).toBeUndefined();
  });

  it('names the unknown parameter and, quoted alike, the ones the route accepts', () => {
    expect(refusal('x=1', ['only'])).toBe('Unknown query parameter "x"; this route accepts "only".');
    expect(refusal('status=Pass', ['stale', 'top', 'continuationToken'])).toBe('Unknown query parameter "status"; this route accepts "stale", "top", "continuationToken".');
    expect(refusal('lang=ja', [])).toBe('This route takes no query parameters, but got "lang".');
  });

  it('refuses with the query error code', () => {
    expect(queryRefusal(() => checkParams(q('top=1&nope=2'), ['top']))).toContain('"nope"');
  });
});

describe('single', () => {
  it('is the value trimmed, or undefined when absent', () => {
    expect(single(q('a=%20x%20'), 'a')).toBe('x');
    expect(single(q('b=1'), 'a')).toBeUndefined();
  });

  it('refuses a parameter given twice or left blank, naming it', () => {
    expect(queryRefusal(() => single(q('a=1&a=1'), 'a'))).toBe('The query parameter "a" may be given only once.');
    expect(queryRefusal(() => single(q('a='), 'a'))).toBe('The query parameter "a" must not be empty.');
    expect(queryRefusal(() => single(q('a=%20%20'), 'a'))).toBe('The query parameter "a" must not be empty.');
  });
});

describe('parseTop', () => {
  it('is the default without "top", and the number from 1 to the maximum', () => {
    expect(parseTop(q(''))).toBe(DEFAULT_TOP);
    expect(DEFAULT_TOP).toBe(100);
    expect(MAX_TOP).toBe(1000);
    expect(parseTop(q('top=1'))).toBe(1);
    expect(parseTop(q('top=1000'))).toBe(1000);
    expect(parseTop(q('top=%2025%20'))).toBe(25);
    expect(parseTop(q('top=0001000'))).toBe(1000);
  });

  it('refuses anything else, quoting it', () => {
    for (const v of ['0', '1001', '-1', '1.5', '1e2', '0x10', 'ten', '00000001', '5a', 'a5']) {
      expect(queryRefusal(() => parseTop(q(`top=${encodeURIComponent(v)}`)))).toBe(`"top" must be a whole number from 1 to 1000, not "${v}".`);
    }
  });
});

describe('parseSince', () => {
  it('reads a date alone as UTC midnight and a time by its zone', () => {
    expect(parseSince(q(''))).toBeUndefined();
    expect(parseSince(q('since=2026-11-28'))).toBe(Date.UTC(2026, 10, 28));
    expect(parseSince(q('since=2026-11-28T00:00:00Z'))).toBe(Date.UTC(2026, 10, 28));
    expect(parseSince(q(`since=${encodeURIComponent('2026-11-28T09:00:00+09:00')}`))).toBe(Date.UTC(2026, 10, 28));
  });

  it('refuses a time without its zone, a date that does not exist, and other text', () => {
    for (const v of ['2026-11-28T09:00:00', '2026-02-30', '2026-11-28T25:00:00Z', 'yesterday', '2026-11-28 09:00Z']) {
      const message = queryRefusal(() => parseSince(q(`since=${encodeURIComponent(v)}`)));
      expect(message).toBe(`"since" must be an existing ISO 8601 date (UTC midnight) or a time with its zone, such as 2026-11-28T09:00:00+09:00 or 2026-11-28T00:00:00Z, not "${v}".`);
    }
  });

  it('takes a date alone only when it is the whole value', () => {
    // A prefix of a time must not pass as a date: "2026-11-28T09:00" has no zone.
    expect(() => parseSince(q('since=2026-11-28T09:00'))).toThrow(ApiError);
    expect(() => parseSince(q('since=x2026-11-28'))).toThrow(ApiError);
    expect(() => parseSince(q('since=2026-11-28x'))).toThrow(ApiError);
  });
});

describe('parseStatuses / parseEventStatuses', () => {
  it('take repeated and comma-separated statuses in any case, each once, in the spelling of the contract', () => {
    expect(parseStatuses(q(''))).toBeUndefined();
    expect(parseStatuses(q('status=warning,ERROR&status=%20Warning%20'))).toEqual(['Warning', 'Error']);
    expect(parseStatuses(q('status=notapplicable&status=UNKNOWN&status=pass'))).toEqual(['NotApplicable', 'Unknown', 'Pass']);
  });

  it('refuse any other value, naming the statuses', () => {
    expect(queryRefusal(() => parseStatuses(q('status=Pass,%20Fine%20')))).toBe('"status" must be one or more of Pass, Warning, Error, NotApplicable, Unknown, not "Fine".');
    expect(queryRefusal(() => parseStatuses(q('status=Pass,')))).toBe('"status" must be one or more of Pass, Warning, Error, NotApplicable, Unknown, not "".');
    expect(() => parseStatuses(q('status=Stale'))).toThrow(ApiError);
  });

  it('for events, take the server statuses too', () => {
    expect(parseEventStatuses(q(''))).toBeUndefined();
    expect(parseEventStatuses(q('status=stale,%20REPORTING%20&status=removed&status=warning&status=Stale'))).toEqual(['Stale', 'Reporting', 'Removed', 'Warning']);
    expect(queryRefusal(() => parseEventStatuses(q('status=Stale,%20Gone%20')))).toBe('"status" must be one or more of Pass, Warning, Error, NotApplicable, Unknown, Stale, Reporting, Removed, not "Gone".');
  });
});

describe('parseFlag', () => {
  it('is true or false in any case, undefined when absent', () => {
    expect(parseFlag(q(''), 'waived')).toBeUndefined();
    expect(parseFlag(q('waived=TRUE'), 'waived')).toBe(true);
    expect(parseFlag(q('waived=true'), 'waived')).toBe(true);
    expect(parseFlag(q('stale=False'), 'stale')).toBe(false);
  });

  it('refuses anything else, naming the parameter', () => {
    for (const v of ['1', 'yes', 'truee', 'no']) {
      expect(queryRefusal(() => parseFlag(q(`stale=${v}`), 'stale'))).toBe(`The query parameter "stale" must be true or false, not "${v}".`);
    }
  });
});

describe('parseCauses / causesOfKind / parseKindAndCauses', () => {
  it('take causes repeated or comma-separated, in any case, each once', () => {
    expect(parseCauses(q(''))).toBeUndefined();
    expect(parseCauses(q('cause=Stale,%20returned&cause=STALE'))).toEqual(['stale', 'returned']);
  });

  it('refuse an unknown cause, listing them all', () => {
    expect(queryRefusal(() => parseCauses(q('cause=stale,%20reboot%20')))).toBe(`"cause" must be one or more of ${EVENT_CAUSES.join(', ')}, not "reboot".`);
  });

  it('split the causes into the three kinds, every cause in exactly one', () => {
    expect(causesOfKind('status')).toEqual(['snapshot', 'rule-change', 'stale', 'returned', 'removed']);
    expect(causesOfKind('waiver')).toEqual(['waiver-created', 'waiver-changed', 'waiver-expired', 'waiver-deleted']);
    expect(causesOfKind('baseline')).toEqual(['baseline-set', 'baseline-changed', 'baseline-deleted']);
  });

  it('give a kind its causes, intersected with "cause" when both are given', () => {
    expect(parseKindAndCauses(q(''))).toBeUndefined();
    expect(parseKindAndCauses(q('cause=stale'))).toEqual(['stale']);
    expect(parseKindAndCauses(q('kind=Waiver'))).toEqual(causesOfKind('waiver'));
    expect(parseKindAndCauses(q('kind=status&cause=stale,waiver-created'))).toEqual(['stale']);
    expect(parseKindAndCauses(q('kind=baseline&cause=stale'))).toEqual([]);
  });

  it('refuse an unknown kind, quoting it as sent', () => {
    expect(queryRefusal(() => parseKindAndCauses(q('kind=Drift')))).toBe('"kind" must be status, waiver, baseline, not "Drift".');
  });
});

describe('parseRule', () => {
  it('is the rule id in any case, or undefined when absent', () => {
    expect(parseRule(q(''), RULES)).toBeUndefined();
    expect(parseRule(q('rule=McAfee-Port25-Blocked'), RULES)).toBe('mcafee-port25-blocked');
  });

  it('refuses an unknown rule, naming the rules there are', () => {
    expect(queryRefusal(() => parseRule(q('rule=port25'), RULES))).toBe('Unknown rule "port25"; the rules are mcafee-port25-blocked.');
    const two = [...RULES, { ...RULES[0]!, id: 'second-rule' }];
    expect(parseRule(q('rule=Second-Rule'), two)).toBe('second-rule');
    expect(queryRefusal(() => parseRule(q('rule=third'), two))).toBe('Unknown rule "third"; the rules are mcafee-port25-blocked, second-rule.');
  });
});

describe('parseServer / pathServer / parseResultFilter', () => {
  it('read a host name or fqdn as a server id: trimmed, lower case, without a final dot', () => {
    expect(parseServer(undefined, '"server"')).toBeUndefined();
    expect(parseServer(' EX01.Contoso.com. ', '"server"')).toBe('ex01.contoso.com');
    expect(pathServer({ server: 'EX02' })).toBe('ex02');
  });

  it('refuse what is no server id, saying which value it was', () => {
    expect(queryRefusal(() => parseServer('ex 01', '"server"'))).toBe('"server" must be a server id (a host name or fqdn, as the snapshot sent it), not "ex 01".');
    expect(queryRefusal(() => pathServer({ server: 'a/b' }))).toBe('The server in the path must be a server id (a host name or fqdn, as the snapshot sent it), not "a/b".');
    expect(queryRefusal(() => pathServer({}))).toBe('The server in the path must be a server id (a host name or fqdn, as the snapshot sent it), not "".');
  });

  it('read the list filters together', () => {
    expect(parseResultFilter(q(''), RULES)).toEqual({ server: undefined, ruleId: undefined, statuses: undefined, since: undefined });
    expect(parseResultFilter(q('server=EX01&rule=mcafee-port25-blocked&status=warning&since=2026-11-28'), RULES)).toEqual({
      server: 'ex01',
      ruleId: 'mcafee-port25-blocked',
      statuses: ['Warning'],
      since: Date.UTC(2026, 10, 28),
    });
    expect(queryRefusal(() => parseResultFilter(q('server=a%20b'), RULES))).toMatch(/^"server" must be a server id/);
  });
});

describe('parseToken', () => {
  const tokenRefused = (query: string) => {
    try {
      parseToken(q(query));
    } catch (error) {
      return error instanceof InvalidContinuationTokenError;
    }
    return false;
  };

  it('passes a token of URL-safe base64 up to 4096 characters', () => {
    expect(parseToken(q(''))).toBeUndefined();
    expect(parseToken(q('continuationToken=aZ09_-'))).toBe('aZ09_-');
    expect(parseToken(q(`continuationToken=${'a'.repeat(4096)}`))).toHaveLength(4096);
  });

  it('refuses a longer one or one with other characters as a token it never issued', () => {
    expect(tokenRefused(`continuationToken=${'a'.repeat(4097)}`)).toBe(true);
    for (const v of ['ab+c', 'ab=', 'a.b', 'a%2Fb', 'x%00']) expect(tokenRefused(`continuationToken=${v}`)).toBe(true);
    expect(tokenRefused('continuationToken=abc')).toBe(false);
  });
});

/** A stream failure with its reason, in the place of a chunk. */
class Fail {
  constructor(readonly reason: unknown) {}
}

/** A post carrying `chunks` as its body (or none), with the given headers. */
function request(headers: Record<string, string>, chunks?: readonly (Uint8Array | string | Fail)[], onCancel?: () => void): ApiRequest {
  let i = 0;
  const body =
    chunks === undefined
      ? null
      : new ReadableStream<Uint8Array>({
          pull(controller) {
            const c = chunks[i++];
            if (c === undefined) controller.close();
            else if (c instanceof Fail) controller.error(c.reason);
            else controller.enqueue(typeof c === 'string' ? new TextEncoder().encode(c) : c);
          },
          cancel: () => onCancel?.(),
        });
  return apiRequest({ method: 'POST', headers, body });
}

describe('readBody', () => {
  it('joins the chunks in order, up to and including the limit', async () => {
    const bytes = await readBody(request({}, ['ab', 'cd', 'e']), 5);
    expect(Buffer.from(bytes).toString()).toBe('abcde');
  });

  it('answers no bytes for a request without a body', async () => {
    expect(await readBody(request({}), 5)).toEqual(new Uint8Array());
  });

  it('refuses a declared length over the limit before reading a byte', async () => {
    let pulled = false;
    const req = request({ 'Content-Length': ' 6 ' }, ['abc']);
    const read = req.body!.getReader.bind(req.body);
    (req.body as { getReader: unknown }).getReader = () => {
      pulled = true;
      return read();
    };
    const e = await rejected(readBody(req, 5, 'A waiver'));
    expect(e.code).toBe('too_large');
    expect(e.status).toBe(413);
    expect(e.message).toBe('A waiver exceeds the limit of 5 bytes.');
    expect(pulled).toBe(false);
  });

  it('reads on when the declared length is within the limit or not a number', async () => {
    expect(Buffer.from(await readBody(request({ 'Content-Length': '5' }, ['abcde']), 5)).toString()).toBe('abcde');
    expect(Buffer.from(await readBody(request({ 'Content-Length': '1e9' }, ['abc']), 5)).toString()).toBe('abc');
    // A length of several digits is read whole.
    expect((await rejected(readBody(request({ 'Content-Length': '10' }, ['abc']), 5))).code).toBe('too_large');
  });

  it('refuses an undeclared body as soon as it passes the limit, and stops the stream', async () => {
    let cancelled = false;
    const e = await rejected(readBody(request({}, ['abc', 'def', 'never read'], () => (cancelled = true)), 5));
    expect(e.code).toBe('too_large');
    expect(e.message).toBe('The snapshot exceeds the limit of 5 bytes.');
    expect(cancelled).toBe(true);
  });

  it('calls a stream that fails midway a body that stopped arriving, with the reason', async () => {
    const e = await rejected(readBody(request({}, ['ab', new Fail(new Error('socket hang up'))]), 100));
    expect(e.code).toBe('incomplete_body');
    expect(e.status).toBe(400);
    expect(e.message).toBe('The snapshot stopped arriving before it was complete (socket hang up); nothing was stored.');
    const odd = await rejected(readBody(request({}, [new Fail('reset')]), 100, 'A baseline'));
    expect(odd.message).toBe('A baseline stopped arriving before it was complete (the connection failed); nothing was stored.');
  });
});

describe('readJsonText / readJsonBody', () => {
  const spec: BodySpec = { max: 64, what: 'A waiver', hint: 'send one waiver as JSON', emptyCode: 'invalid_waiver' };
  const jsonType = { 'Content-Type': 'application/json' };

  it('read a JSON body as text, with or without a UTF-8 charset and without its byte order mark', async () => {
    expect(await readJsonText(request(jsonType, ['{"a":', '1}']), spec)).toBe('{"a":1}');
    expect(await readJsonText(request({ 'Content-Type': ' Application/JSON ; charset="UTF8"' }, ['[]']), spec)).toBe('[]');
    expect(await readJsonText(request({ 'Content-Type': 'application/json;charset=utf-8', 'Content-Encoding': ' identity   ' }, ['\ufeff{}']), spec)).toBe('{}');
    expect(await readJsonText(request({ 'Content-Type': 'application/json; boundary=x', 'Content-Encoding': '' }, ['1']), spec)).toBe('1');
    expect(await readJsonBody(request(jsonType, ['{"a":[1,2]}']), spec)).toEqual({ a: [1, 2] });
  });

  it('refuse another media type or charset, saying what to send', async () => {
    const cases: [Record<string, string>, string][] = [
      [{}, 'Send a waiver as Content-Type: application/json (UTF-8), not without a Content-Type.'],
      [{ 'Content-Type': 'text/plain' }, 'Send a waiver as Content-Type: application/json (UTF-8), not "text/plain".'],
      [{ 'Content-Type': 'application/jsonl' }, 'Send a waiver as Content-Type: application/json (UTF-8), not "application/jsonl".'],
      [{ 'Content-Type': 'x-application/json' }, 'Send a waiver as Content-Type: application/json (UTF-8), not "x-application/json".'],
      [{ 'Content-Type': 'application/json; charset=latin1' }, 'Send a waiver as Content-Type: application/json (UTF-8), not "application/json; charset=latin1".'],
      [{ 'Content-Type': 'application/json; charset=utf-16' }, 'Send a waiver as Content-Type: application/json (UTF-8), not "application/json; charset=utf-16".'],
      [{ 'Content-Type': 'application/json; charset = latin1' }, 'Send a waiver as Content-Type: application/json (UTF-8), not "application/json; charset = latin1".'],
      [{ 'Content-Type': 'application/json; charset=notutf-8' }, 'Send a waiver as Content-Type: application/json (UTF-8), not "application/json; charset=notutf-8".'],
      [{ 'Content-Type': 'application/json; charset=utf-80' }, 'Send a waiver as Content-Type: application/json (UTF-8), not "application/json; charset=utf-80".'],
    ];
    for (const [headers, message] of cases) {
      const e = await rejected(readJsonText(request(headers, ['{}']), spec));
      expect(e.code).toBe('unsupported_media_type');
      expect(e.status).toBe(415);
      expect(e.message).toBe(message);
    }
  });

  it('refuse a compressed body as such, naming the codings taken', async () => {
    for (const coding of ['gzip', 'identity, gzip', 'br']) {
      const e = await rejected(readJsonText(request({ ...jsonType, 'Content-Encoding': coding }, ['{}']), spec));
      expect(e.code).toBe('unsupported_media_type');
      expect(e.message).toBe(`Send a waiver uncompressed: a body with Content-Encoding ${JSON.stringify(coding)} is not read.`);
      expect(e.headers).toEqual({ 'Accept-Encoding': 'identity' });
    }
  });

  it('refuse an empty or blank body with the route\'s code, and invalid UTF-8 as such', async () => {
    for (const body of [[], ['  \r\n']]) {
      const e = await rejected(readJsonText(request(jsonType, body), spec));
      expect(e.code).toBe('invalid_waiver');
      expect(e.message).toBe('The body is empty; send one waiver as JSON.');
    }
    expect((await rejected(readJsonText(request(jsonType, []), { max: 9, what: 'The snapshot', hint: 'send one snapshot' }))).code).toBe('invalid_json');
    const bad = await rejected(readJsonText(request(jsonType, [new Uint8Array([0x7b, 0xc3, 0x28, 0x7d])]), spec));
    expect(bad.code).toBe('invalid_json');
    expect(bad.message).toBe('The body is not valid UTF-8 text.');
  });

  it('refuse a body over the route\'s limit in the route\'s words', async () => {
    const e = await rejected(readJsonText(request(jsonType, ['x'.repeat(65)]), spec));
    expect(e.message).toBe('A waiver exceeds the limit of 64 bytes.');
  });

  it('say where the JSON broke, on one line', async () => {
    const e = await rejected(readJsonBody(request(jsonType, ['{"a":\n\n  }']), spec));
    expect(e.code).toBe('invalid_json');
    expect(e.message).toMatch(/^The body is not valid JSON \(\S[^\n]*\); send one waiver as JSON\.$/);
    expect(e.message).not.toMatch(/\s{2}/);
    // The parser's own words, spaced as it wrote them.
    expect(e.message).toMatch(/\(\S+( \S+)+\)/);
    expect(thrown(() => parseJsonText('{', 'send JSON')).message).toMatch(/^The body is not valid JSON \(.+\); send JSON\.$/);
  });
});

describe('decodeUtf8', () => {
  it('drops one leading byte order mark and keeps everything else', () => {
    expect(decodeUtf8(new TextEncoder().encode('\ufeffa'))).toBe('a');
    expect(decodeUtf8(new TextEncoder().encode('\ufeff\ufeffa'))).toBe('\ufeffa');
    expect(decodeUtf8(new TextEncoder().encode('a\ufeff'))).toBe('a\ufeff');
    expect(decodeUtf8(new Uint8Array())).toBe('');
  });
});
