import type { ItNexus } from '../command.js';
import type { LuView } from '../lu-view.js';

/**
 * The copy manager's records (SPC-4 6.4.3.2, 6.18): per LU, per I_T nexus, by LIST
 * IDENTIFIER, what EXTENDED COPY did and RECEIVE COPY RESULTS reports.
 */

/** COPY MANAGER STATUS (SPC-4 6.18.2). */
export const CopyManagerStatus = { IN_PROGRESS: 0x00, COMPLETED_GOOD: 0x01, COMPLETED_ERROR: 0x02 } as const;

export interface CopyRecord {
  status: number;
  segmentsProcessed: number;
  bytesCopied: number;
  /** The failed copy's status and sense data, if any (FAILED SEGMENT DETAILS). */
  failure?: { readonly status: number; readonly sense: Buffer };
}

/** One I_T nexus's copy operations on one LU, by LIST IDENTIFIER. */
export interface NexusCopies {
  /** The nexus object of the session that issued them: a new session starts afresh. */
  readonly nexus: ItNexus;
  readonly lists: Map<number, CopyRecord>;
}

/** Copy manager state per LU (RECEIVE COPY RESULTS must reach the LU the copy was sent to). */
const managers = new WeakMap<LuView, Map<string, NexusCopies>>();

/**
 * The nexus's copy operations, dropping those of sessions that are gone: list identifiers are
 * per I_T nexus (SPC-4 6.4.3.2) and nothing is held past the nexus's loss.
 */
export function copiesOf(lu: LuView, nexus: ItNexus): NexusCopies {
  let m = managers.get(lu);
  if (!m) managers.set(lu, (m = new Map()));
  const known = new Set(lu.knownNexuses());
  for (const id of m.keys()) if (!known.has(id) && id !== nexus.id) m.delete(id);
  let c = m.get(nexus.id);
  if (!c || c.nexus !== nexus) m.set(nexus.id, (c = { nexus, lists: new Map() }));
  return c;
}
