// The collector's clock-skew warning states what the service does with a snapshot dated ahead of
// its clock, and its default threshold is chosen to warn while snapshots are still accepted. Both
// are PowerShell text about a TypeScript limit, so they are held to that limit here.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_FUTURE_MS } from '../../src/snapshot/parse';

const collector = (file: string) => readFileSync(path.join(__dirname, '../../collector', file), 'utf8');

describe('the collector\'s clock-skew warning against the service\'s future limit', () => {
  it('names the limit the service refuses snapshots by', () => {
    const minutes = /refuses a snapshot dated more than (\d+) minutes ahead/.exec(collector('Private/ClockSkew.ps1'))?.[1];
    expect(Number(minutes)).toBe(MAX_FUTURE_MS / 60_000);
  });

  it('warns by default before the service starts refusing', () => {
    const seconds = /\[double\]\$MaxClockSkewSeconds = (\d+)/.exec(collector('Send-PostureSnapshot.ps1'))?.[1];
    expect(Number(seconds)).toBeGreaterThan(0);
    expect(Number(seconds)).toBeLessThan(MAX_FUTURE_MS / 1000);
  });
});
