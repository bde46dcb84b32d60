import type { Logger } from '../util/logger.js';
import {
  type ItNexus,
  TmfFunction,
  type TmfRequest,
  TmfResponse,
  type TmfResponseCode,
  type TransportCommand,
} from './command.js';
import { RESET_UNIT_ATTENTIONS, type ResetUnitAttention } from './forwarding.js';
import type { LogicalUnit } from './logical-unit.js';
import type { LunMap } from './lun-map.js';
import { reason, type SenseReason } from './sense-reason.js';
import type { Task } from './task-set.js';

/**
 * Task management (SAM-5 7; RFC 7143 11.5), resets on this node and from peers, and I_T nexus
 * loss: what ends which tasks, reservations and unit attentions.
 */
export class TaskManagement {
  readonly #luns: LunMap;
  readonly #log: Logger;
  /** A forwarded task was aborted here: the primary is asked to abort its copy. */
  readonly #forwardedAborted: (cmd: TransportCommand) => void;

  constructor(luns: LunMap, log: Logger, forwardedAborted: (cmd: TransportCommand) => void) {
    this.#luns = luns;
    this.#log = log;
    this.#forwardedAborted = forwardedAborted;
  }

  async taskManagement(req: TmfRequest): Promise<TmfResponseCode> {
    const nexusId = req.nexus.id;
    switch (req.fn) {
      case TmfFunction.ABORT_TASK: {
        const lu = this.#luns.visible(req.nexus.initiatorName, req.lun);
        if (!lu) return TmfResponse.LUN_DOES_NOT_EXIST;
        const victims = [...lu.taskSet.tasks()].filter(
          (t) => t.nexus.id === nexusId && t.tag === req.referencedTag,
        );
        // RFC 7143 11.5.1: a task we do not know (never received, or already answered) is
        // reported as FUNCTION COMPLETE too; the initiator's view is the same either way.
        await this.#abort(victims, nexusId);
        return TmfResponse.FUNCTION_COMPLETE;
      }
      case TmfFunction.ABORT_TASK_SET:
      case TmfFunction.CLEAR_TASK_SET: {
        const lu = this.#luns.visible(req.nexus.initiatorName, req.lun);
        if (!lu) return TmfResponse.LUN_DOES_NOT_EXIST;
        const all = req.fn === TmfFunction.CLEAR_TASK_SET;
        const victims = [...lu.taskSet.tasks()].filter((t) => all || t.nexus.id === nexusId);
        await this.#abort(victims, nexusId);
        if (all) this.#notifyCleared(lu, victims, nexusId);
        return TmfResponse.FUNCTION_COMPLETE;
      }
      case TmfFunction.LOGICAL_UNIT_RESET: {
        const lu = this.#luns.visible(req.nexus.initiatorName, req.lun);
        if (!lu) return TmfResponse.LUN_DOES_NOT_EXIST;
        await this.#resetLu(lu, nexusId, reason('BUS_DEVICE_RESET_FUNCTION_OCCURRED'));
        return TmfResponse.FUNCTION_COMPLETE;
      }
      case TmfFunction.TARGET_WARM_RESET:
      case TmfFunction.TARGET_COLD_RESET:
        await this.#resetTarget(req.nexus);
        return TmfResponse.FUNCTION_COMPLETE;
      default:
        return TmfResponse.FUNCTION_NOT_SUPPORTED;
    }
  }

  /**
   * TARGET WARM/COLD RESET: a logical unit reset of every LU the caller can see (SAM-5 7.11,
   * 7.12), here and, through #resetLu, on every node serving them. An LU masked from the
   * caller's initiator does not exist for it (SPC-4 4.6.23), so its tasks, reservations and
   * unit attentions stay as they are (DESIGN.md Trust).
   */
  async #resetTarget(nexus: ItNexus): Promise<void> {
    const visible = this.#luns.lunsFor(nexus).map((lun) => this.#luns.get(lun)!);
    await Promise.all(
      visible.map((lu) => this.#resetLu(lu, nexus.id, reason('POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED'))),
    );
  }

  async #resetLu(lu: LogicalUnit, issuer: string, ua: SenseReason): Promise<void> {
    const victims = [...lu.taskSet.tasks()];
    await this.#abort(victims, issuer);
    // SPC-2 reservations end with a logical unit reset; persistent reservations survive it
    // (SPC-4 5.13.1).
    await lu.reservations.logicalUnitReset();
    lu.reset();
    // SAM-5 6.3.3: a logical unit reset establishes a unit attention for every I_T nexus —
    // those logged in to other nodes too (the TMF completes once they have it).
    lu.unitAttentions.establishAll(lu.knownNexuses(), ua);
    if (lu.forwarder && isResetUnitAttention(ua.name)) {
      await lu.forwarder.resetPeers(lu.config.volumeId, ua.name);
    }
  }

  /** Another node reset the LU of `volume`: its tasks here end, its nexuses here learn it. */
  async resetFromPeer(volume: string, ua: ResetUnitAttention): Promise<boolean> {
    const lu = [...this.#luns.all().values()].find((l) => l.config.volumeId === volume);
    if (!lu) return false;
    await this.#abort([...lu.taskSet.tasks()], '');
    lu.reset();
    lu.unitAttentions.establishAll(lu.knownNexuses(), reason(ua));
    return true;
  }

  #notifyCleared(lu: LogicalUnit, victims: Task[], issuer: string): void {
    // SAM-5 5.6: with TAS = 0, other nexuses whose tasks were cleared learn it from a UA.
    if (lu.mode.tas) return;
    const others = new Set(victims.filter((t) => t.nexus.id !== issuer).map((t) => t.nexus.id));
    for (const id of others) lu.unitAttentions.establish(id, reason('COMMANDS_CLEARED_BY_ANOTHER_INITIATOR'));
  }

  async #abort(victims: Task[], issuer: string): Promise<void> {
    for (const t of victims) {
      t.aborted = true;
      t.abortedByOther = t.nexus.id !== issuer;
      t.cmd.abort();
      this.#forwardedAborted(t.cmd);
    }
    // The TMF completes only when the aborted tasks can have no further effect.
    await Promise.all(victims.map((t) => t.done));
  }

  nexusLost(nexus: ItNexus, why: 'logout' | 'reinstatement' | 'connection-loss'): Promise<void> {
    const releases: Promise<void>[] = [];
    for (const lu of this.#luns.all().values()) {
      for (const t of lu.taskSet.tasks()) {
        if (t.nexus.id === nexus.id) {
          t.aborted = true;
          t.cmd.abort();
          this.#forwardedAborted(t.cmd);
        }
      }
      lu.forgetNexus(nexus.id);
      // The nexus's SPC-2 reservation ends with it (SPC-2 5.5.1); its registrations stay.
      releases.push(
        lu.reservations.nexusLost(nexus).catch((err: unknown) => {
          this.#log.error(
            { err, nexus: nexus.id, lun: lu.config.volumeId },
            'releasing a reservation failed',
          );
        }),
      );
    }
    this.#log.debug({ nexus: nexus.id, why }, 'I_T nexus lost');
    return Promise.all(releases).then(() => undefined);
  }
}

function isResetUnitAttention(name: string): name is ResetUnitAttention {
  return (RESET_UNIT_ATTENTIONS as readonly string[]).includes(name);
}
