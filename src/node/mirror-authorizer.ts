import type { LeaderRecord } from '../cluster/coordinator.js';
import type { MirrorAuthorizer, MirrorClaim, MirrorStream } from '../replication/index.js';
import { identityOfCertificate } from '../security/peer-identity.js';

/** What the authorizer reads from the cluster (the Coordinator, once the node has joined). */
export interface PrimaryRecords {
  /** The volume's primary as etcd records it: the election key's holder and create revision. */
  leader(volume: string): Promise<LeaderRecord | undefined>;
  /** The etcd cluster's era (Coordinator.era). */
  readonly era: string;
}

/**
 * DESIGN.md Trust, issue #12 attack 2: a Mirror stream is accepted only from the node etcd
 * records as the volume's primary at exactly the Hello's epoch, in this etcd's era. The caller
 * is the node its client certificate names (TLS); on a plaintext channel, which exists only with
 * `insecure: true`, nothing proves who it is and the Hello's own `primaryNode` stands in.
 */
export class ClusterMirrorAuthorizer implements MirrorAuthorizer {
  readonly #records: () => PrimaryRecords | undefined;

  constructor(records: () => PrimaryRecords | undefined) {
    this.#records = records;
  }

  async authorizeMirror(call: MirrorStream, claim: MirrorClaim): Promise<void> {
    const caller = callerOf(call, claim);
    if (!claim.era) throw new Error(`the Hello for ${claim.volume} names no etcd era`);
    const records = this.#records();
    if (!records) throw new Error('this node has not joined the cluster yet');
    if (claim.era !== records.era) {
      throw new Error(`the Hello's era ${claim.era} is not this cluster's (${records.era})`);
    }
    const leader = await records.leader(claim.volume);
    if (!leader) throw new Error(`etcd records no primary for ${claim.volume}`);
    if (leader.node !== caller) {
      throw new Error(`${caller} is not the primary of ${claim.volume} (etcd: ${leader.node})`);
    }
    // Exactly: an older epoch is a deposed primary, a newer one was never issued by etcd.
    if (leader.epoch !== claim.epoch) {
      throw new Error(`epoch ${claim.epoch} is not ${claim.volume}'s current epoch ${leader.epoch} (etcd)`);
    }
  }
}

/** The caller's node name: its certificate's with TLS, else (plaintext) the Hello's claim. */
function callerOf(call: MirrorStream, claim: MirrorClaim): string {
  const ctx = call.getAuthContext();
  if (ctx?.transportSecurityType !== 'ssl') return claim.primaryNode;
  const id = identityOfCertificate(ctx.sslPeerCertificate);
  if (!id || id.kind !== 'node') throw new Error('the caller presented no node certificate');
  return id.name;
}
