import type { PeerIdentity } from './peer-identity.js';

/** The role an admin API call needs (DESIGN.md "Trust": a read-only role and an admin role). */
export type AdminRole = 'read-only' | 'admin';

/**
 * One entry per RPC of proto/tandem/admin/v1/admin.proto (a unit test checks the table is
 * complete, so a new RPC cannot be added without deciding its role). Issue 12: read-only may
 * call status, top, wait, resync status, metrics and other pure reads; everything else is admin.
 * Verify reads every region of every replica (I/O load on the cluster), so it is admin.
 */
export const ADMIN_RPC_ROLES: Readonly<Record<string, AdminRole>> = {
  Status: 'read-only',
  NodeStatus: 'read-only',
  ListConfig: 'read-only',
  GetConfig: 'read-only',
  PutConfig: 'admin',
  DeleteConfig: 'admin',
  ExportConfig: 'read-only',
  ImportConfig: 'admin',
  Switchover: 'admin',
  Verify: 'admin',
  Metrics: 'read-only',
};

/**
 * What another node may call with its node certificate: the calls a node forwards on an admin's
 * behalf (status fan-out, switchover and verify routed to the primary). The node that forwards
 * has already authorized the admin; everything else refuses a node certificate.
 */
export const NODE_FORWARDED_RPCS: ReadonlySet<string> = new Set(['NodeStatus', 'Switchover', 'Verify']);

/** The request fields that ask for secrets: such a request needs the admin role whatever the RPC. */
function asksForSecrets(request: unknown): boolean {
  return (
    typeof request === 'object' &&
    request !== null &&
    (request as { showSecrets?: unknown }).showSecrets === true
  );
}

export type AdminDecision =
  | { readonly ok: true; readonly role: AdminRole }
  | { readonly ok: false; readonly code: 'unauthenticated' | 'permission-denied'; readonly message: string };

/**
 * Decides whether `who` (the verified client certificate, or undefined when there is none) may
 * call `rpc` with `request`. An RPC missing from the table is refused (fail closed).
 */
export function authorizeAdminCall(
  rpc: string,
  request: unknown,
  who: PeerIdentity | undefined,
): AdminDecision {
  if (who === undefined) {
    return {
      ok: false,
      code: 'unauthenticated',
      message:
        'no client certificate from the cluster CA: pass --ca/--cert/--key or set TANDEM_CA, TANDEM_CERT, TANDEM_KEY',
    };
  }
  const needed: AdminRole | undefined = ADMIN_RPC_ROLES[rpc];
  if (needed === undefined) {
    return { ok: false, code: 'permission-denied', message: `${rpc} is not an admin API call` };
  }
  const required: AdminRole = asksForSecrets(request) ? 'admin' : needed;
  if (who.kind === 'admin') return { ok: true, role: 'admin' };
  if (who.kind === 'node' && NODE_FORWARDED_RPCS.has(rpc) && !asksForSecrets(request)) {
    return { ok: true, role: 'admin' };
  }
  if (who.kind === 'read-only' && required === 'read-only') return { ok: true, role: 'read-only' };
  return {
    ok: false,
    code: 'permission-denied',
    message: `${rpc} needs the ${required} role; ${who.name} has a ${who.kind} certificate: use an admin client certificate (tandemctl certs issue client NAME --role admin)`,
  };
}
