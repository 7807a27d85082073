// The local timers of `npm start`: a job whose run is still going is not started again, and
// stopping waits for the runs in progress (Azurite is stopped after them). The jobs are held by
// the test, so what runs when is decided by the test, not by timing.
import { describe, expect, it } from 'vitest';
import { startJobTimers } from '../../src/local/job-timers';
import { until } from '../support/until';

/** Jobs that record their runs; 'slow' is held until the test lets it go, 'quick' ends at once. */
function jobs() {
  const started: string[] = [];
  const ended: string[] = [];
  const gates: (() => void)[] = [];
  const run = async (job: 'slow' | 'quick' | 'failing') => {
    started.push(job);
    if (job === 'slow') await new Promise<void>((go) => gates.push(go));
    if (job === 'failing') throw new Error('storage went away');
    ended.push(job);
  };
  return { started, ended, run, releaseSlow: () => gates.splice(0).forEach((go) => go()) };
}

const count = (list: string[], job: string) => list.filter((j) => j === job).length;

describe('the local job timers', () => {
  it('a job still running is not started again while the others keep their interval', async () => {
    const j = jobs();
    const timers = startJobTimers(['slow', 'quick'], j.run, 5, () => undefined);
    await until(() => count(j.ended, 'quick') >= 3, 'three runs of the quick job');
    expect(count(j.started, 'slow')).toBe(1);
    j.releaseSlow();
    await until(() => count(j.started, 'slow') === 2, 'the slow job to run again');
    j.releaseSlow();
    await timers.stop();
    j.releaseSlow();
  });

  it('stop() resolves only once the run in progress has ended, and starts no more', async () => {
    const j = jobs();
    const timers = startJobTimers(['slow', 'quick'], j.run, 5, () => undefined);
    await until(() => j.started.includes('slow'), 'the slow job to start');
    let stopped = false;
    const stopping = timers.stop().then(() => (stopped = true));
    const startedBefore = j.started.length;
    // Several intervals pass: nothing new starts, and stop() still waits for the slow run.
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);
    expect(j.started.length).toBe(startedBefore);
    j.releaseSlow();
    await stopping;
    expect(j.ended).toContain('slow');
  });

  it('a failing run is reported with its job, and stop() does not fail for it', async () => {
    const reported: string[] = [];
    const timers = startJobTimers(['failing'], jobs().run, 5, (job, error) => reported.push(`${job}: ${(error as Error).message}`));
    await until(() => reported.length > 0, 'the failure to be reported');
    await timers.stop();
    expect(reported[0]).toBe('failing: storage went away');
  });
});
