/** The seeded random streams of a scenario (numbers fixed forever: the guest C program uses them too). */
export const STREAM = {
  /** Which page each guest memory write hits. */
  pageWrites: 1,
  /** Which disk offset each guest disk write hits. */
  diskWrites: 2,
  /** The content model (which never-written pages are uniform). */
  content: 3,
} as const;
