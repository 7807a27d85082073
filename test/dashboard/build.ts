// The dashboard's built files (dist/src/dashboard/public), rebuilt when older than their sources,
// so the tests serve what the code says.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { buildGuides } from '../../scripts/markdown.cjs';

export const ROOT = path.resolve(__dirname, '..', '..');
export const PUBLIC_DIR = path.join(ROOT, 'dist', 'src', 'dashboard', 'public');
const SOURCES = [path.join(ROOT, 'src', 'dashboard', 'web'), path.join(ROOT, 'src', 'dashboard', 'static'), path.join(ROOT, 'docs', 'rules')];

const newest = (dir: string): number => Math.max(0, ...readdirSync(dir).map((f) => statSync(path.join(dir, f)).mtimeMs));
const oldest = (dir: string): number => Math.min(...readdirSync(dir).map((f) => statSync(path.join(dir, f)).mtimeMs));

/** Same steps as `npm run build:dashboard`, the rule guides included. */
export function ensureDashboardBuilt(): void {
  const built = ['index.html', 'main.js', 'guide-mcafee-port25-blocked.html'].every((f) => existsSync(path.join(PUBLIC_DIR, f)));
  if (built && oldest(PUBLIC_DIR) >= Math.max(...SOURCES.map(newest))) return;
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'src', 'dashboard', 'web', 'tsconfig.json')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  cpSync(path.join(ROOT, 'src', 'dashboard', 'static'), PUBLIC_DIR, { recursive: true });
  buildGuides(ROOT, PUBLIC_DIR);
}
