import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../util/logger.js';
import { isReplicationError } from './errors.js';
import { REFUSAL } from './peer-link.js';
import type { AckMessage, OpBatchMessage, OpMessage, PrimaryMessage, ReplicaMessage } from './proto.js';
import { OpKind, replicationPackage } from './proto.js';
import type { ReplicatedVolume } from './replicated-volume.js';

type MirrorStream = grpc.ServerDuplexStream<PrimaryMessage, ReplicaMessage>;

/**
 * The replica's end of replication, on the node's one gRPC server: each Mirror stream is one
 * primary feeding one volume. Ops of a message (and of successive messages) are applied
 * concurrently: the primary never has two overlapping writes in flight, and resync chunks are
 * ordered against live writes by its region lock. Acks of the ops applied together go back in
 * one message.
 */
export function addReplicationService(
  server: grpc.Server,
  lookup: (volume: string) => ReplicatedVolume | undefined,
  logger: Logger,
): void {
  const log = logger.child({ component: 'replication-server' });
  server.addService(replicationPackage().Replication.service, {
    Mirror: (stream: MirrorStream) => mirror(stream, lookup, log),
  });
}

function mirror(
  stream: MirrorStream,
  lookup: (volume: string) => ReplicatedVolume | undefined,
  log: Logger,
): void {
  let volume: ReplicatedVolume | undefined;
  let name = '';
  let helloSeen = false;
  let epoch = 0;
  let open = true;
  /** Hello and epoch changes are applied in order; ops wait for the epoch they carry. */
  let ready: Promise<void> = Promise.resolve();
  let acks: AckMessage[] = [];
  let scheduled = false;

  const close = (prefix: string, err: unknown) => {
    if (!open) return;
    open = false;
    const details = `${prefix}: ${(err as Error).message ?? String(err)}`;
    log.warn({ volume: name, details }, 'mirror stream refused');
    // The 'error' handler of a grpc-js server stream ends the call with this status.
    stream.emit(
      'error',
      Object.assign(new Error(details), { code: grpc.status.FAILED_PRECONDITION, details }),
    );
  };
  const refusal = (err: unknown): string => {
    if (isReplicationError(err, 'TANDEM_ERR_REPLICATION_STALE_EPOCH')) return REFUSAL.staleEpoch;
    if ((err as Error).message?.includes('this node is the primary')) return REFUSAL.isPrimary;
    return REFUSAL.protocol;
  };
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
      ready = v.acceptHello(hello).then(
        (reply) => {
          if (open) stream.write({ hello: reply });
          log.info({ volume: name, primary: hello.primaryNode, epoch }, 'mirror stream from the primary');
        },
        (err: unknown) => close(refusal(err), err),
      );
      return;
    }
    const batch: OpBatchMessage | null | undefined = msg.ops;
    const v = volume;
    if (!batch || !v) return close(REFUSAL.protocol, new Error('expected ops after the Hello'));
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
  const gone = () => {
    open = false;
  };
  stream.on('cancelled', gone);
  stream.on('error', gone);
  stream.on('end', () => {
    if (open) stream.end();
    gone();
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
