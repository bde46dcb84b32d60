import type { ItNexus, TransportCommand } from './command.js';
import type { LogicalUnit } from './logical-unit.js';
import { reason } from './sense-reason.js';

/**
 * A target's LUN map and its masking: which LU answers at which LUN, and which of them an
 * initiator may see.
 */
export class LunMap {
  readonly #luns = new Map<number, LogicalUnit>();

  /**
   * LUN masking (set by the composition root from the target's ACL): the LUNs an initiator may
   * see, or undefined for all. A masked LUN does not exist for that initiator: REPORT LUNS
   * leaves it out and commands to it get LOGICAL UNIT NOT SUPPORTED (SPC-4 4.6.23).
   */
  lunMask: ((initiatorName: string) => ReadonlySet<number> | undefined) | undefined;

  add(lun: number, lu: LogicalUnit): void {
    if (this.#luns.has(lun)) throw new Error(`LUN ${lun} exists`);
    this.#luns.set(lun, lu);
    for (const other of this.#luns.values()) {
      if (other !== lu)
        other.unitAttentions.establishAll(other.knownNexuses(), reason('REPORTED_LUNS_DATA_HAS_CHANGED'));
    }
  }

  remove(lun: number): LogicalUnit | undefined {
    const lu = this.#luns.get(lun);
    if (!lu) return undefined;
    this.#luns.delete(lun);
    for (const other of this.#luns.values()) {
      other.unitAttentions.establishAll(other.knownNexuses(), reason('REPORTED_LUNS_DATA_HAS_CHANGED'));
    }
    return lu;
  }

  get(lun: number): LogicalUnit | undefined {
    return this.#luns.get(lun);
  }

  all(): ReadonlyMap<number, LogicalUnit> {
    return this.#luns;
  }

  /** The LU at `lun` as the initiator `initiatorName` may see it. */
  visible(initiatorName: string, lun: number): LogicalUnit | undefined {
    const mask = this.lunMask?.(initiatorName);
    return mask && !mask.has(lun) ? undefined : this.#luns.get(lun);
  }

  lunsFor(nexus: ItNexus | TransportCommand): number[] {
    const initiator = 'nexus' in nexus ? nexus.nexus.initiatorName : nexus.initiatorName;
    const mask = this.lunMask?.(initiator);
    return [...this.#luns.keys()].filter((l) => !mask || mask.has(l)).sort((a, b) => a - b);
  }
}
