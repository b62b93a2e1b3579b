/** The migration connection of a scenario: a socket send buffer in front of the link. */
import { Pipe } from '../../sim/resources/pipe.ts';
import { msToNs } from '../../sim/time.ts';
import type { Scenario } from '../scenario.ts';

/** The source's migration socket: send buffer, link payload rate, one-way latency of half the RTT. */
export function migrationSocket(s: Scenario): Pipe {
  const bytesPerSecond = (s.network.bandwidthMbps * 1e6) / 8;
  return new Pipe(bytesPerSecond, s.network.sendBufferKiB * 1024, Math.round(msToNs(s.network.rttMs) / 2));
}
