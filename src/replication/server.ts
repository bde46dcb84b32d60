import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../util/logger.js';
import { isReplicationError, refusalOf } from './errors.js';
import { REFUSAL } from './peer-link.js';
import type { AckMessage, OpBatchMessage, OpMessage, PrimaryMessage, ReplicaMessage } from './proto.js';
import { OpKind, replicationPackage } from './proto.js';
import type { ReplicatedVolume } from './replicated-volume.js';

/** A Mirror call on the replica (its getAuthContext() names a TLS caller). */
export type MirrorStream = grpc.ServerDuplexStream<PrimaryMessage, ReplicaMessage>;

/** What a Hello claims: checked by the authorizer before it changes anything on the replica. */
export interface MirrorClaim {
  readonly volume: string;
  readonly epoch: number;
  /** The etcd cluster's era ('' when the Hello names none: refused). */
  readonly era: string;
  /** The sender the Hello names: to be trusted only on a plaintext (insecure) channel. */
  readonly primaryNode: string;
}

/**
 * Who may feed a volume here (DESIGN.md Trust): implemented by the node over the Coordinator,
 * since this layer cannot read etcd. Resolves when the caller of `call` (with TLS: the node its
 * client certificate names) is the node etcd records as primary of `claim.volume` at exactly
 * `claim.epoch`, in the era `claim.era`; rejects with the reason otherwise. Every op of an
 * accepted stream (CHECKSUM too) is then the primary's, at that epoch.
 */
export interface MirrorAuthorizer {
  authorizeMirror(call: MirrorStream, claim: MirrorClaim): Promise<void>;
}

/** An accepted stream, as the other streams of its volume see it. */
interface AcceptedStream {
  readonly epoch: number;
  supersede(by: number): void;
}

/**
 * The replica's end of replication, on the node's one gRPC server: each Mirror stream is one
 * primary feeding one volume. Ops of a message (and of successive messages) are applied
 * concurrently: the primary never has two overlapping writes in flight, and resync chunks are
 * ordered against live writes by its region lock. Acks of the ops applied together go back in
 * one message.
 *
 * `authorizer` absent: every well-formed stream is accepted (the replication unit tests); a node
 * always passes one.
 */
export function addReplicationService(
  server: grpc.Server,
  lookup: (volume: string) => ReplicatedVolume | undefined,
  logger: Logger,
  authorizer?: MirrorAuthorizer,
): void {
  const log = logger.child({ component: 'replication-server' });
  /** Accepted streams by volume: a newly accepted one closes the others (see supersede). */
  const accepted = new Map<string, Set<AcceptedStream>>();
  server.addService(replicationPackage().Replication.service, {
    Mirror: (stream: MirrorStream) => mirror(stream, lookup, log, authorizer, accepted),
  });
}

function mirror(
  stream: MirrorStream,
  lookup: (volume: string) => ReplicatedVolume | undefined,
  log: Logger,
  authorizer: MirrorAuthorizer | undefined,
  accepted: Map<string, Set<AcceptedStream>>,
): void {
  let volume: ReplicatedVolume | undefined;
  let name = '';
  let helloSeen = false;
  let epoch = 0;
  let open = true;
  let self: AcceptedStream | undefined;
  /** Hello and epoch changes are applied in order; ops wait for the epoch they carry. */
  let ready: Promise<void> = Promise.resolve();
  let acks: AckMessage[] = [];
  let scheduled = false;

  const gone = (why: string) => {
    if (!open) return;
    open = false;
    if (self && accepted.get(name)?.delete(self)) {
      log.info({ volume: name, epoch: self.epoch, reason: why }, 'mirror stream ended');
    }
  };
  const close = (prefix: string, err: unknown, code: grpc.status = grpc.status.FAILED_PRECONDITION) => {
    if (!open) return;
    const details = `${prefix}: ${(err as Error).message ?? String(err)}`;
    gone(details);
    log.warn({ volume: name, details }, 'mirror stream refused');
    // The 'error' handler of a grpc-js server stream ends the call with this status.
    stream.emit('error', Object.assign(new Error(details), { code, details }));
  };
  const refusal = (err: unknown): string => {
    if (isReplicationError(err, 'TANDEM_ERR_REPLICATION_STALE_EPOCH')) return REFUSAL.staleEpoch;
    if (refusalOf(err) === 'is-primary') return REFUSAL.isPrimary;
    return REFUSAL.protocol;
  };
  /** The authorizer said no: nothing of the Hello was applied. */
  class Unauthorized extends Error {}
  // The acks of the ops applied in one turn go out in one message, once their promise jobs are
  // done (not at setImmediate: see PeerLink's #schedulePump).
  const ack = (a: AckMessage) => {
    acks.push(a);
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      const batch = acks;
      acks = [];
      if (open && batch.length > 0) stream.write({ acks: { acks: batch } });
    });
  };
  /**
   * Issue #14 finding 2: once this stream is accepted, every older stream of the volume is
   * closed, so an op still in flight on an abandoned connection (a partition that heals) can
   * never land after this stream's resync. Ops of a closed stream are dropped (`open`).
   */
  const supersedeOthers = () => {
    let set = accepted.get(name);
    if (!set) accepted.set(name, (set = new Set()));
    for (const other of [...set]) other.supersede(epoch);
    self = {
      epoch,
      supersede: (by) =>
        close(
          by > self!.epoch ? REFUSAL.staleEpoch : REFUSAL.protocol,
          new Error(`superseded by a newer Mirror stream (epoch ${by}) for ${name}`),
        ),
    };
    set.add(self);
  };

  stream.on('data', (msg: PrimaryMessage) => {
    if (!open) return;
    if (!helloSeen) {
      const hello = msg.hello;
      if (!hello) return close(REFUSAL.protocol, new Error('the first message must be a Hello'));
      helloSeen = true;
      name = hello.volume;
      volume = lookup(hello.volume);
      if (!volume) return close(REFUSAL.unknownVolume, new Error(`no volume ${hello.volume} here`));
      epoch = hello.epoch;
      const v = volume;
      const claim: MirrorClaim = {
        volume: hello.volume,
        epoch: hello.epoch,
        era: hello.era,
        primaryNode: hello.primaryNode,
      };
      // Authorized before acceptHello: a refused Hello persists no epoch and changes no state.
      const authorized = authorizer
        ? authorizer.authorizeMirror(stream, claim).catch((err: unknown) => {
            throw new Unauthorized((err as Error).message ?? String(err));
          })
        : Promise.resolve();
      ready = authorized
        .then(() => {
          if (!open) throw new Error('stream closed');
          return v.acceptHello(hello);
        })
        .then(
          (reply) => {
            if (!open) return;
            supersedeOthers();
            stream.write({ hello: reply });
            log.info({ volume: name, primary: hello.primaryNode, epoch }, 'mirror stream from the primary');
          },
          (err: unknown) =>
            err instanceof Unauthorized
              ? close(REFUSAL.isPrimary, err, grpc.status.PERMISSION_DENIED)
              : close(refusal(err), err),
        );
      return;
    }
    const batch: OpBatchMessage | null | undefined = msg.ops;
    const v = volume;
    if (!batch || !v) return close(REFUSAL.protocol, new Error('expected ops after the Hello'));
    if (authorizer && batch.epoch !== epoch) {
      // The authorizer vouched for the Hello's epoch only.
      return close(
        REFUSAL.isPrimary,
        new Error(`ops of epoch ${batch.epoch} on a stream authorized for epoch ${epoch}`),
        grpc.status.PERMISSION_DENIED,
      );
    }
    if (!v.epochCurrent(batch.epoch)) {
      return close(REFUSAL.staleEpoch, new Error(`epoch ${batch.epoch} is older than one already seen`));
    }
    if (batch.epoch !== epoch) {
      epoch = batch.epoch;
      const e = batch.epoch;
      ready = ready.then(() => v.acceptEpoch(e, 'the primary'));
    }
    const gate = ready;
    const failed = (ops: readonly OpMessage[], err: unknown) => {
      if (!open) return;
      if (
        isReplicationError(err, 'TANDEM_ERR_REPLICATION_STALE_EPOCH') ||
        isReplicationError(err, 'TANDEM_ERR_REPLICATION_PROTOCOL')
      ) {
        close(refusal(err), err);
        return;
      }
      for (const op of ops) {
        log.error(
          { volume: name, seq: op.seq, kind: op.kind, err: (err as Error).message },
          'mirrored op failed',
        );
        ack({ seq: op.seq, ok: false, error: (err as Error).message, checksum: 0 });
      }
    };
    // Sequential writes arrive as adjacent runs: each run is one device write (fewer system
    // calls on the replica, the busier side under a sequential load). Other ops go one by one.
    for (const run of writeRuns(batch.ops)) {
      if (run.length > 1) {
        gate
          .then(() => {
            if (!open) throw new Error('stream closed');
            return v.applyWriteRun(run);
          })
          .then(
            () => {
              for (const op of run) ack({ seq: op.seq, ok: true, error: '', checksum: 0 });
            },
            (err: unknown) => failed(run, err),
          );
        continue;
      }
      const op = run[0]!;
      gate
        .then(() => {
          if (!open) throw new Error('stream closed');
          return v.applyOp(op);
        })
        .then(
          (checksum) => ack({ seq: op.seq, ok: true, error: '', checksum }),
          (err: unknown) => failed(run, err),
        );
    }
  });
  // 'cancelled' also comes when the server's keepalive finds the connection dead (#14 finding 2).
  stream.on('cancelled', () => gone('cancelled (the primary went away or stopped answering keepalives)'));
  stream.on('error', (err: Error) => gone(err.message));
  stream.on('end', () => {
    if (open) stream.end();
    gone('ended by the primary');
  });
}

/** Largest run of adjacent writes applied as one device write. */
const RUN_BYTES = 1 << 20;

/** Splits a batch into runs of adjacent WRITE ops with the same FUA (others: runs of one). */
export function writeRuns(ops: readonly OpMessage[]): OpMessage[][] {
  const runs: OpMessage[][] = [];
  let run: OpMessage[] = [];
  let bytes = 0;
  for (const op of ops) {
    const last = run.at(-1);
    const joins =
      last !== undefined &&
      op.kind === OpKind.WRITE &&
      last.kind === OpKind.WRITE &&
      op.fua === last.fua &&
      op.offset === last.offset + last.data.length &&
      bytes + op.data.length <= RUN_BYTES;
    if (!joins) {
      if (run.length > 0) runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(op);
    bytes += op.data.length;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
