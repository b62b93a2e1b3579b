/** CSV (RFC 4180) and flattening of nested records into scalar columns. */

/** A CSV cell: null and undefined become empty. */
export type Cell = string | number | boolean | null | undefined;

/** Quote a cell when it holds a comma, quote, or line break. */
export function csvCell(v: Cell): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV text: a header row, then one row per record (values looked up by column name), CRLF-free. */
export function toCsv(columns: readonly string[], rows: Iterable<Record<string, Cell>>): string {
  let out = `${columns.map(csvCell).join(',')}\n`;
  for (const r of rows) out += `${columns.map((c) => csvCell(r[c])).join(',')}\n`;
  return out;
}

/**
 * The scalar leaves of `value` as dot-path → value (`{bytes: {total: 1}}` → `bytes.total`). Arrays are
 * skipped (they are not scalars); null leaves are kept as null.
 */
export function flattenScalars(
  value: unknown,
  prefix = '',
  out: Record<string, Cell> = {},
): Record<string, Cell> {
  if (value === null || typeof value !== 'object') {
    if (prefix) out[prefix] = value as Cell;
    return out;
  }
  if (Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value as Record<string, unknown>))
    flattenScalars(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}
