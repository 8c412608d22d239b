/** The Markdown summary (bench/results/<timestamp>.md). */
import type { BenchResults } from './results.js';
import { buildTables, environmentLines, flameGraphHref, profileTableId, type Table } from './tables.js';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(t: Table): string {
  const lines = [`| ${t.head.map(cell).join(' | ')} |`, `|${t.head.map(() => '---').join('|')}|`];
  for (const row of t.rows) lines.push(`| ${row.map(cell).join(' | ')} |`);
  return lines.join('\n');
}

export function renderMarkdown(r: BenchResults): string {
  const out: string[] = [`# Tessera benchmark — ${r.startedAt.slice(0, 10)} (${r.mode})`, ''];
  for (const line of environmentLines(r)) out.push(`- ${line}`);
  out.push('');
  for (const t of buildTables(r)) {
    out.push(`## ${t.title}`, '');
    if (t.intro) out.push(t.intro, '');
    out.push(t.rows.length > 0 ? markdownTable(t) : '_no data_', '');
    const profile = r.profiles.find((p) => profileTableId(p) === t.id);
    const href = profile && flameGraphHref(profile);
    if (href) {
      out.push(`Flame graph: [${href}](${href}) — in the profile folder, next to the \`.cpuprofile\` (profile folders are not committed; the HTML report embeds it).`, '');
    }
  }
  if (r.notes.length > 0) {
    out.push('## Notes', '');
    for (const n of r.notes) out.push(`- ${n.replace(/\n/g, ' ')}`);
    out.push('');
  }
  out.push('Charts: the HTML page with the same name (not committed). Raw data: the JSON file with the same name.', '');
  return out.join('\n');
}
