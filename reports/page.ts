/** The HTML shell every report page shares: one self-contained file, inline CSS, no scripts, no network. */
import { esc } from './format.ts';

/** Page styles (inline; the page loads nothing). */
export const PAGE_CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, 'DejaVu Sans', sans-serif; margin: 0; color: #1d1d1d; background: #fafafa; }
header { background: #243447; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 21px; font-weight: 600; }
header p { margin: 4px 0 0; color: #c9d6e3; }
main { padding: 8px 24px 40px; max-width: 1260px; }
section { background: #fff; border: 1px solid #e2e2e2; border-radius: 6px; padding: 12px 16px; margin: 14px 0; }
h2 { font-size: 17px; margin: 2px 0 8px; }
p.note { color: #555; margin: 4px 0 8px; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
th { background: #f3f5f7; font-weight: 600; }
td.k, th.k { text-align: left; }
tr.group th { background: #e8edf2; text-align: left; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.bad { color: #b00020; } .good { color: #1b7a2f; }
.scroll { max-height: 460px; overflow: auto; border: 1px solid #eee; }
.scroll thead th { position: sticky; top: 0; z-index: 1; }
svg { max-width: 100%; height: auto; display: block; }
table.top { margin: 10px 0 18px; }
ul.files { margin: 4px 0; padding-left: 20px; }
code { font-family: 'DejaVu Sans Mono', Menlo, monospace; font-size: 12px; }
details pre { font-size: 12px; background: #f6f6f6; padding: 8px; overflow: auto; }
`;

/** A whole HTML page around `body` (already HTML). */
export function htmlPage(title: string, subtitle: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${PAGE_CSS}</style>
</head>
<body>
<header><h1>${esc(title)}</h1><p>${esc(subtitle)}</p></header>
<main>
${body}
</main>
</body>
</html>
`;
}

/** A `<section>` with a heading, an optional note and content. */
export function section(id: string, heading: string, content: string, note = ''): string {
  return `<section id="${esc(id)}"><h2>${esc(heading)}</h2>${note ? `<p class="note">${note}</p>` : ''}${content}</section>\n`;
}

/** A two-column key/value table; values are HTML. Rows whose value is null are left out. */
export function kvTable(cls: string, rows: [string, string | null][]): string {
  const body = rows
    .filter((r): r is [string, string] => r[1] !== null)
    .map(([k, v]) => `<tr><td class="k">${esc(k)}</td><td>${v}</td></tr>`)
    .join('');
  return `<table class="${esc(cls)}"><tbody>${body}</tbody></table>`;
}
