import type { ItNexus, ScsiEngine, TargetPort } from '../scsi/command.js';
import type { AuthConfig } from './chap.js';
import type { TargetSettings } from './params.js';

/** One iSCSI target as a portal serves it: its name, engine and this node's port. */
export interface TargetEntry {
  readonly name: string;
  readonly alias?: string;
  readonly engine: ScsiEngine;
  /** This node's target portal group tag for the target (RFC 7143 13.9). */
  readonly portalGroupTag: number;
  /** The SCSI target port that sessions through this portal group use. */
  readonly targetPort: TargetPort;
  /** SendTargets TargetAddress values: "host:port,tpgt", one per portal of the target. */
  addresses(localAddress: string): string[];
  /** Whether an initiator may log in to this target (ACLs, issue #6). */
  admits(initiatorName: string): boolean;
  /** CHAP the initiator must pass to log in (absent: AuthMethod=None). */
  readonly auth?: AuthConfig;
}

export interface TargetDirectory {
  lookup(name: string): TargetEntry | undefined;
  all(): TargetEntry[];
}

export interface PortalOptions {
  readonly settings: TargetSettings;
  /** Idle time after which the target pings the initiator with a NOP-In (0: never). */
  readonly nopInIntervalMs: number;
  /** A ping unanswered this long drops the connection. */
  readonly nopInTimeoutMs: number;
  /** Commands a session may have outstanding (CmdSN window). */
  readonly commandWindow: number;
  /** Login must finish within this time. */
  readonly loginTimeoutMs: number;
  /** CHAP required of discovery sessions (absent: AuthMethod=None). */
  readonly discoveryAuth?: AuthConfig;
}

export const DEFAULT_PORTAL_OPTIONS: Omit<PortalOptions, 'settings'> = {
  nopInIntervalMs: 15_000,
  nopInTimeoutMs: 30_000,
  commandWindow: 128,
  loginTimeoutMs: 15_000,
};

export type { ItNexus };
