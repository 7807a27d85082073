// vitest's globalSetup: brings dist/ up to date once, before any test file starts. Files run two
// at a time, and two that each found dist/ older than the sources would each rebuild it, one
// rewriting files while the other's test was already running the built CLI or serving the
// dashboard from them. After this, the files' own checks find dist/ current and build nothing.
import path from 'node:path';
import { ensureDashboardBuilt, ROOT } from '../dashboard/build';
import { ensureServiceBuilt } from './built';

export default function setup(): void {
  ensureServiceBuilt(path.join(ROOT, 'dist', 'src', 'local', 'main.js'));
  ensureDashboardBuilt();
}
