/**
 * speedscope files (https://www.speedscope.app/file-format-schema.json): evented profiles of a span
 * forest, one on the time axis (nanoseconds) and one on a byte axis (each span as wide as the wire bytes
 * produced inside it, children in time order), per root span.
 */
import { cleanFrame } from './folded.ts';
import type { SpanNode } from './span-tree.ts';

/** speedscope's schema URL, the `$schema` of every file. */
export const SPEEDSCOPE_SCHEMA = 'https://www.speedscope.app/file-format-schema.json';

/** An open or close event of an evented profile. */
export interface SpeedscopeEvent {
  type: 'O' | 'C';
  frame: number;
  at: number;
}

/** An evented profile. */
export interface SpeedscopeProfile {
  type: 'evented';
  name: string;
  unit: 'nanoseconds' | 'bytes';
  startValue: number;
  endValue: number;
  events: SpeedscopeEvent[];
}

/** A speedscope file. */
export interface SpeedscopeFile {
  $schema: typeof SPEEDSCOPE_SCHEMA;
  name: string;
  exporter: string;
  activeProfileIndex: number;
  shared: { frames: { name: string }[] };
  profiles: SpeedscopeProfile[];
}

/** Options of `toSpeedscope`. */
export interface SpeedscopeOptions {
  /** The file's name (shown by speedscope). */
  name?: string;
  /** Which profiles to write: time, bytes or both (default). */
  weights?: ('time' | 'bytes')[];
  /** The frame name of a node; default the span name. */
  frame?: (node: SpanNode) => string;
}

/** Defaults of `toSpeedscope`. */
export const SPEEDSCOPE_DEFAULTS: Required<SpeedscopeOptions> = {
  name: 'migscope',
  weights: ['time', 'bytes'],
  frame: (node) => node.span.name,
};

/** A speedscope file of `roots` (see the module comment). Zero-width spans are left out. */
export function toSpeedscope(roots: readonly SpanNode[], options: SpeedscopeOptions = {}): SpeedscopeFile {
  const o = { ...SPEEDSCOPE_DEFAULTS, ...options };
  const frames: { name: string }[] = [];
  const index = new Map<string, number>();
  const frameOf = (n: SpanNode) => {
    const name = cleanFrame(o.frame(n));
    let i = index.get(name);
    if (i === undefined) {
      i = frames.length;
      frames.push({ name });
      index.set(name, i);
    }
    return i;
  };
  const profiles: SpeedscopeProfile[] = [];
  for (const root of roots) {
    if (o.weights.includes('time') && root.end > root.start) {
      const events: SpeedscopeEvent[] = [];
      const visit = (n: SpanNode) => {
        if (n.end <= n.start) return;
        const f = frameOf(n);
        events.push({ type: 'O', frame: f, at: n.start });
        for (const c of n.children) visit(c);
        events.push({ type: 'C', frame: f, at: n.end });
      };
      visit(root);
      profiles.push({
        type: 'evented',
        name: `${cleanFrame(o.frame(root))} (time)`,
        unit: 'nanoseconds',
        startValue: root.start,
        endValue: root.end,
        events,
      });
    }
    if (o.weights.includes('bytes') && root.bytes > 0) {
      const events: SpeedscopeEvent[] = [];
      const visit = (n: SpanNode, at: number) => {
        if (n.bytes <= 0) return;
        const f = frameOf(n);
        events.push({ type: 'O', frame: f, at });
        let pos = at;
        for (const c of n.children) {
          visit(c, pos);
          pos += c.bytes;
        }
        events.push({ type: 'C', frame: f, at: at + n.bytes });
      };
      visit(root, 0);
      profiles.push({
        type: 'evented',
        name: `${cleanFrame(o.frame(root))} (bytes)`,
        unit: 'bytes',
        startValue: 0,
        endValue: root.bytes,
        events,
      });
    }
  }
  return {
    $schema: SPEEDSCOPE_SCHEMA,
    name: o.name,
    exporter: 'migscope',
    activeProfileIndex: 0,
    shared: { frames },
    profiles,
  };
}
