import type { ItNexus } from '../scsi/command.js';
import { snAdd, snLt } from '../util/serial.js';
import type { NegotiatedParams } from './params.js';
import type { TargetEntry } from './portal-interface.js';

/**
 * An iSCSI session (RFC 7143 4.4): one I_T nexus, its command numbering and its negotiated
 * parameters. MaxConnections is 1, so a session has at most one live connection.
 */
export class Session {
  readonly tsih: number;
  readonly isid: Buffer;
  readonly initiatorName: string;
  readonly type: 'Normal' | 'Discovery';
  readonly target: TargetEntry | undefined;
  readonly nexus: ItNexus | undefined;
  readonly params: NegotiatedParams;
  readonly createdAt = new Date();
  /** Next CmdSN expected in order. */
  expCmdSN: number;
  /** Highest CmdSN advertised; never decreases (RFC 7143 4.2.2.1). */
  maxCmdSN: number;
  readonly window: number;
  /** Commands received and not yet answered: they hold window slots. */
  inFlight = 0;
  /** Set when reinstated or logged out: the old connection must stop answering. */
  closed = false;
  /** Set once the I_T nexus's end was handed to the engine (at logout, or at the close). */
  nexusEnded = false;

  constructor(opts: {
    tsih: number;
    isid: Buffer;
    initiatorName: string;
    type: 'Normal' | 'Discovery';
    target: TargetEntry | undefined;
    params: NegotiatedParams;
    cmdSN: number;
    window: number;
  }) {
    this.tsih = opts.tsih;
    this.isid = opts.isid;
    this.initiatorName = opts.initiatorName;
    this.type = opts.type;
    this.target = opts.target;
    this.params = opts.params;
    this.window = opts.window;
    this.expCmdSN = opts.cmdSN >>> 0;
    this.maxCmdSN = snAdd(this.expCmdSN, opts.window - 1);
    if (opts.target) {
      const isidHex = opts.isid.toString('hex');
      const initiatorPortName = `${opts.initiatorName},i,0x${isidHex}`;
      this.nexus = {
        id: `${initiatorPortName}|${opts.target.targetPort.relativePortId}`,
        initiatorPortName,
        initiatorName: opts.initiatorName,
        isid: isidHex,
        targetPort: opts.target.targetPort,
      };
    } else {
      this.nexus = undefined;
    }
  }

  /** Key under which a later login with the same ISID reinstates this session. */
  get key(): string {
    return sessionKey(this.initiatorName, this.isid, this.target);
  }

  /** Recomputes MaxCmdSN from the free window slots; it only ever grows. */
  refreshWindow(): void {
    const free = Math.max(0, this.window - this.inFlight);
    const candidate = snAdd(this.expCmdSN, free - 1);
    if (snLt(this.maxCmdSN, candidate)) this.maxCmdSN = candidate;
  }
}

/**
 * A session is named by its initiator port and its target portal group (RFC 7143 4.4.3: SSID =
 * ISID + TPGT): the same ISID through another portal group is another path, not a
 * reinstatement (ESXi uses one ISID per adapter for every path).
 */
export function sessionKey(initiatorName: string, isid: Buffer, target: TargetEntry | undefined): string {
  return `${initiatorName}|${isid.toString('hex')}|${target?.name ?? ''}|${target?.portalGroupTag ?? ''}`;
}
