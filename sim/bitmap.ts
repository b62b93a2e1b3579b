/** A fixed-size bit set over Uint32 words: one bit per item, scanned a word at a time. */
export class Bitmap {
  readonly words: Uint32Array;

  constructor(readonly size: number) {
    this.words = new Uint32Array((size + 31) >>> 5);
  }

  test(i: number): boolean {
    return (this.words[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
  }

  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
  }

  /** Set or clear every bit. */
  fill(on: boolean): void {
    this.words.fill(on ? 0xffffffff : 0);
    if (on) this.trimTail();
  }

  /** Set bits [from, to). */
  setRange(from: number, to: number): void {
    for (let i = from; i < to; i++) {
      if ((i & 31) === 0 && i + 32 <= to) {
        this.words[i >>> 5] = 0xffffffff;
        i += 31;
      } else this.set(i);
    }
  }

  /** Index of the first set bit in [from, size), or -1. */
  nextSet(from: number): number {
    const words = this.words;
    const n = words.length;
    if (from >= this.size) return -1;
    let w = from >>> 5;
    let bits = words[w]! & (0xffffffff << (from & 31));
    while (bits === 0) {
      if (++w >= n) return -1;
      bits = words[w]!;
    }
    // Lowest set bit: 31 - clz32(bits & -bits).
    const i = (w << 5) + (31 - Math.clz32(bits & -bits));
    return i < this.size ? i : -1;
  }

  /** Number of set bits. */
  count(): number {
    let c = 0;
    const words = this.words;
    for (let i = 0; i < words.length; i++) {
      let v = words[i]!;
      if (v === 0) continue;
      v = v - ((v >>> 1) & 0x55555555);
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
      c += (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) >>> 0;
    }
    return c;
  }

  private trimTail(): void {
    const extra = this.words.length * 32 - this.size;
    if (extra > 0) this.words[this.words.length - 1] = 0xffffffff >>> extra;
  }
}
