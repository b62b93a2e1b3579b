/** Number and text formatting shared by the reports: durations, bytes, percentages, HTML escaping. */

/** Escape text for HTML and XML (element content and attribute values). */
export function esc(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;',
  );
}

/** A duration in ms as text: "812 µs", "13.3 ms", "13.28 s". Null → "n/a". */
export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return 'n/a';
  const a = Math.abs(ms);
  if (a === 0) return '0 ms';
  if (a < 1) return `${trim((ms * 1000).toPrecision(3))} µs`;
  if (a < 1000) return `${trim(ms.toPrecision(4))} ms`;
  return `${trim((ms / 1000).toPrecision(4))} s`;
}

/** Bytes as text in binary units: "512 B", "3.22 MiB". Null → "n/a". */
export function fmtBytes(b: number | null | undefined): string {
  if (b === null || b === undefined || !Number.isFinite(b)) return 'n/a';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Math.abs(b);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const s = u === 0 ? String(Math.round(v)) : trim(v.toPrecision(3));
  return `${b < 0 ? '-' : ''}${s} ${units[u]}`;
}

/** A count with thousands separators: 523,357,317. */
export function fmtInt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return 'n/a';
  return Math.round(n).toLocaleString('en-US');
}

/** A signed percentage: "+4.2%", "-0.31%"; null when the base is 0 or missing. */
export function fmtPct(p: number | null): string {
  if (p === null || !Number.isFinite(p)) return 'n/a';
  const s = Math.abs(p) >= 10 ? p.toFixed(1) : p.toPrecision(2);
  return `${p > 0 ? '+' : ''}${trim(s)}%`;
}

/** A throughput in bytes/s as MiB/s text. */
export function fmtRate(bps: number | null | undefined): string {
  if (bps === null || bps === undefined || !Number.isFinite(bps)) return 'n/a';
  return `${trim((bps / 1048576).toPrecision(3))} MiB/s`;
}

function trim(s: string): string {
  return s.includes('e') || !s.includes('.') ? s : s.replace(/\.?0+$/, '');
}

/** A value in the unit of a weight: µs as a duration, bytes as bytes. */
export function fmtWeight(v: number, weight: 'time' | 'bytes'): string {
  return weight === 'time' ? fmtMs(v / 1000) : fmtBytes(v);
}

/** A deterministic 32-bit hash of a string (FNV-1a), for stable colours. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
