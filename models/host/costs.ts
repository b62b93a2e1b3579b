/** The host costs a model charges, in ns, derived once from a scenario's `host:` section. */
import { msToNs, type Ns, S, US } from '../../sim/time.ts';
import type { Scenario } from '../scenario.ts';

/** Fixed host costs, in ns. */
export interface HostCosts {
  /** Per page in the send loop (read, check, copy, send). */
  pageCopyNs: Ns;
  /** One dirty-log sync over the whole of guest RAM. */
  bitmapSyncNs: Ns;
  /** Per page found dirty in the log at a sync (at setup: every page). */
  bitmapSyncNsPerDirtyPage: Ns;
  deviceSaveNs: Ns;
  deviceLoadNs: Ns;
  /** To read one 1 MiB block-migration chunk from the host disk. */
  chunkReadNs: Ns;
  monitorRttNs: Ns;
}

/** The host costs of scenario `scn`. */
export function hostCosts(scn: Scenario): HostCosts {
  return {
    pageCopyNs: scn.host.pageCopyNs,
    bitmapSyncNs: Math.round((scn.host.bitmapSyncNsPerGiB * scn.vm.memoryMiB) / 1024),
    bitmapSyncNsPerDirtyPage: scn.host.bitmapSyncNsPerDirtyPage,
    deviceSaveNs: msToNs(scn.host.deviceSaveMs),
    deviceLoadNs: msToNs(scn.host.deviceLoadMs),
    chunkReadNs: Math.ceil(S / scn.host.diskReadMiBps),
    monitorRttNs: Math.round(scn.host.monitorRttUs * US),
  };
}
