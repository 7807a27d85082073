// Errors as the API answers them and the record of a refused snapshot, without HTTP: a message
// stays one line whatever the client sent, the body carries the code (and the contract's issues
// when there are any), and only refusals of a snapshot's content are logged, cut to 500 characters.
import { describe, expect, it } from 'vitest';
import { ApiError, API_ERROR_STATUS, errorBody, messageOf, oneLine, type ApiErrorCode } from '../../src/app/errors';
import { LOG_RECORDS } from '../../src/app/log-records';
import { logRejectedSnapshot, REJECTING_CODES } from '../../src/app/snapshot-rejections';

describe('ApiError', () => {
  it('carries the status of its code, and its message on one line with control characters escaped', () => {
    const e = new ApiError('invalid_query', 'Bad "x\ny"\r\u0000\u007f\u0085\u2028\u2029 end\t.');
    expect([e.status, e.code, e.name]).toEqual([400, 'invalid_query', 'ApiError']);
    expect(e.message).toBe('Bad "x\\u000ay"\\u000d\\u0000\\u007f\\u0085\\u2028\\u2029 end\\u0009.');
    expect(oneLine('plain text, ünïcode ✓')).toBe('plain text, ünïcode ✓');
    for (const [code, status] of Object.entries(API_ERROR_STATUS)) expect(new ApiError(code as ApiErrorCode, 'm').status, code).toBe(status);
  });

  it('answers a body with the code and message, and the issues only when there are some', () => {
    expect(errorBody(new ApiError('not_found', 'No such server.'))).toStrictEqual({ error: 'not_found', message: 'No such server.' });
    const issues = [{ path: 'host.name', message: 'Required.' }] as unknown as ConstructorParameters<typeof ApiError>[2];
    expect(errorBody(new ApiError('invalid_snapshot', 'Invalid.', issues))).toStrictEqual({ error: 'invalid_snapshot', message: 'Invalid.', issues });
  });

  it('messageOf says what anything thrown says', () => {
    expect([messageOf(new Error('boom')), messageOf('text'), messageOf(42)]).toEqual(['boom', 'text', '42']);
  });
});

describe('logRejectedSnapshot', () => {
  const logged = (error: unknown) => {
    const lines: string[] = [];
    logRejectedSnapshot({ log: (line) => lines.push(line) }, 'exch01', error);
    return lines;
  };

  it('logs a refusal of the snapshot itself, once, with the server, status, code and message', () => {
    expect([...REJECTING_CODES].sort()).toEqual(['collected_in_future', 'forbidden', 'invalid_json', 'invalid_snapshot', 'snapshot_id_reused', 'too_large', 'unsupported_media_type']);
    for (const code of REJECTING_CODES) {
      const e = new ApiError(code, `Refused for ${code}.`);
      expect(logged(e), code).toEqual([`${LOG_RECORDS.snapshotRejected} ${JSON.stringify({ server: 'exch01', status: e.status, code, message: `Refused for ${code}.` })}`]);
    }
  });

  it('keeps the first 500 characters of the message', () => {
    const [line] = logged(new ApiError('invalid_snapshot', 'x'.repeat(600)));
    expect(JSON.parse(line!.slice(LOG_RECORDS.snapshotRejected.length + 1)).message).toBe('x'.repeat(500));
  });

  it('logs nothing for a refusal of the key, the moment or the service, nor for anything not an API error', () => {
    const others = (Object.keys(API_ERROR_STATUS) as ApiErrorCode[]).filter((code) => !REJECTING_CODES.has(code));
    expect(others).toContain('rate_limited');
    for (const code of others) expect(logged(new ApiError(code, 'm')), code).toEqual([]);
    expect(logged(new Error('invalid_snapshot'))).toEqual([]);
    expect(logged({ code: 'invalid_snapshot', status: 400, message: 'm' })).toEqual([]);
  });
});
