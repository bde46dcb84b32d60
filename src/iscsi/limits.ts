import { type ConnectionLimits, DEFAULT_CONNECTION_LIMITS } from './connection-limiter.js';
import { DEFAULT_MEMORY_BUDGET } from './memory-budget.js';

/**
 * Every cap the iSCSI layer puts on what a remote party can make the node hold (DESIGN.md,
 * "Trust"), from the node file's `iscsi.limits` block (src/admin/config-schema.ts).
 */
export interface IscsiLimits extends ConnectionLimits {
  /** Sessions one initiator name may have open on this node (default 64). */
  sessionsPerInitiator: number;
  /**
   * Commands one session may have in its task set (default 128, the default command window);
   * past it a command ends with TASK SET FULL (SAM-5 5.3.3).
   */
  commandsPerSession: number;
  /** Memory one connection may hold, in bytes (MemoryBudgetLimits.connection). */
  connectionBudget: number;
  /** Memory all connections together may hold, in bytes (MemoryBudgetLimits.node). */
  nodeBudget: number;
}

export const DEFAULT_ISCSI_LIMITS: IscsiLimits = {
  ...DEFAULT_CONNECTION_LIMITS,
  sessionsPerInitiator: 64,
  commandsPerSession: 128,
  connectionBudget: DEFAULT_MEMORY_BUDGET.connection,
  nodeBudget: DEFAULT_MEMORY_BUDGET.node,
};

/**
 * What the node refused or held back, by kind (each a metrics counter): connections past a cap,
 * logins past the per-initiator session cap, commands past the per-session cap (TASK SET FULL),
 * immediate commands past the window (Reject 0x06), and commands held back by the memory budget
 * (the connection's own or the node's).
 */
export type RefusalKind =
  | 'connections-per-source'
  | 'connections-total'
  | 'connections-in-login'
  | 'sessions-per-initiator'
  | 'task-set-full'
  | 'immediate-command-reject'
  | 'memory-connection'
  | 'memory-node';
