/**
 * Re-renders the Markdown and HTML of a results file (after a change to the
 * report code), re-summarizing its CPU profiles when their files are still there:
 *   npx tsx bench/rerender.ts bench/results/<timestamp>.json
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarizeProfile } from './lib/cpu-profile.js';
import { renderHtml } from './report/html.js';
import { renderMarkdown } from './report/markdown.js';
import type { BenchResults } from './report/results.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

for (const file of process.argv.slice(2)) {
  const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  const profiles = results.profiles.map((p) => {
    const path = join(ROOT, p.file);
    if (!existsSync(path)) return p;
    // Older results do not record the skipped start: start-up plus warm-up took about 4 s.
    const s = summarizeProfile(path, 15, p.skipMs ?? 4000);
    return { ...p, idlePercent: s.idlePercent, areas: s.areas.slice(0, 15), functions: s.functions, inclusive: s.inclusive };
  });
  const updated: BenchResults = { ...results, profiles };
  const base = file.replace(/\.json$/, '');
  writeFileSync(`${base}.json`, JSON.stringify(updated, null, 2));
  writeFileSync(`${base}.md`, renderMarkdown(updated));
  writeFileSync(`${base}.html`, renderHtml(updated));
  process.stdout.write(`${base}.{json,md,html}\n`);
}
