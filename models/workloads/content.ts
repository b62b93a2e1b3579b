/**
 * The page-content model: which pages are uniform (one repeated byte; QEMU 0.12.3 sends them as 9 bytes,
 * 7.2 as ZERO pages). A page the workload has written is never uniform (the guest program writes a
 * counter into it). A never-written page is uniform with probability `uniformPageFraction`, decided by a
 * stateless hash of the page index so no per-page array is needed.
 */
import { hashUnit, streamSeed } from '../../sim/random.ts';
import { STREAM } from './streams.ts';

/** Decides whether a never-written page is uniform. */
export class ContentModel {
  private readonly key: number;
  private readonly threshold: number;

  constructor(seed: number, uniformPageFraction: number) {
    this.key = streamSeed(seed, STREAM.content) >>> 0;
    this.threshold = uniformPageFraction;
  }

  /** Whether never-written page `page` holds one repeated byte. */
  initiallyUniform(page: number): boolean {
    return hashUnit(this.key, page) < this.threshold;
  }
}
