// The collector's clock-skew warning states what the service does with a snapshot dated ahead of
// its clock, and its default threshold is chosen to warn while snapshots are still accepted; the
// installer warns at the same threshold, and its help and the README name it. All of it is
// PowerShell text about a TypeScript limit, so it is held to that limit here.
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

  it('warns from the installer at the scheduled runs\' default, and its help and README say that number', () => {
    const runs = /\[double\]\$MaxClockSkewSeconds = (\d+)/.exec(collector('Send-PostureSnapshot.ps1'))?.[1];
    expect(runs).toBeDefined();
    // The installer's clock check is New-PostureClockCheck with its default threshold.
    expect(/New-PostureRetryPolicy -ClockCheck \(New-PostureClockCheck\)/.test(collector('Private/Installer.ps1'))).toBe(true);
    expect(/\[double\]\$MaxSkewSeconds = (\d+)/.exec(collector('Private/ClockSkew.ps1'))?.[1]).toBe(runs);
    expect(/off from it by more than (\d+) s/.exec(collector('Install-PostureCollector.ps1'))?.[1]).toBe(runs);
    const readme = collector('README.md');
    expect(/clock is more than (\d+) s off the service's/.exec(readme)?.[1]).toBe(runs);
    expect(/with the scheduled runs' default of (\d+) s/.exec(readme)?.[1]).toBe(runs);
  });
});
