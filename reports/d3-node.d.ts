/** The part of d3-node (server-side d3 on jsdom) that reports/ uses; the package ships no types. */
declare module 'd3-node' {
  /** A d3 selection, reduced to what the reports call. */
  export interface D3Selection {
    append(name: string): D3Selection;
    attr(name: string, value: string | number): D3Selection;
    text(value: string): D3Selection;
  }
  /** A jsdom document with d3 bound to it. */
  export class D3Node {
    constructor(options?: { selector?: string; container?: string; styles?: string });
    createSVG(width?: number, height?: number, attrs?: Record<string, string | number>): D3Selection;
    svgString(): string;
  }
}
