export { DirtyBitmap, regionSizeFor } from './bitmap.js';
export { isReplicationError, type ReplicationErrorCode, replicationError } from './errors.js';
export { ReplicatedVolume } from './replicated-volume.js';
export type * from './replication-interface.js';
export {
  addReplicationService,
  type MirrorAuthorizer,
  type MirrorClaim,
  type MirrorStream,
} from './server.js';
