import * as grpc from '@grpc/grpc-js';
import { type ForwardedCommandExecutor, RESET_UNIT_ATTENTIONS } from '../scsi/forwarding.js';
import { identityOf, type PeerIdentity } from '../security/peer-identity.js';
import type { Logger } from '../util/logger.js';
import { PEER_CHANNEL_OPTIONS, shutdownServer } from '../util/proto.js';
import {
  type ExecuteRequest,
  type ExecuteResponse,
  type ForwarderMessage,
  forwardPackage,
  fromRequest,
  type ResetRequest,
  type ResetResponse,
  toResponse,
} from './forward-proto.js';
import { widenConnectionWindow, widenReceiveWindow } from './grpc-server-windows.js';

type CommandStream = grpc.ServerDuplexStream<ForwarderMessage, ExecuteResponse>;

/** Who may forward (DESIGN.md Trust): only live members, each only as itself. */
export interface ForwardServerSecurity {
  /** TLS server credentials (mutual TLS: `checkClientCertificate`); absent: plaintext. */
  readonly credentials?: grpc.ServerCredentials;
  /** A node of the cluster's live membership (the Coordinator's, as last watched). */
  readonly isMember: (node: string) => boolean;
}

interface Denied {
  readonly code: grpc.status;
  readonly details: string;
}

/**
 * The primary's end of command forwarding: executes what Active/Non-optimized nodes send
 * through the engine (ForwardedCommandExecutor), as the initiator's nexus.
 */
export class ForwardServer {
  readonly #server: grpc.Server;
  readonly #log: Logger;
  host = '';
  port = 0;

  private constructor(server: grpc.Server, log: Logger) {
    this.#server = server;
    this.#log = log;
  }

  static async listen(
    address: string,
    executor: ForwardedCommandExecutor,
    log: Logger,
    /** Adds the node's other peer-to-peer services (replication) to the same server and port. */
    register?: (server: grpc.Server) => void,
    security?: ForwardServerSecurity,
  ): Promise<ForwardServer> {
    const server = new grpc.Server(PEER_CHANNEL_OPTIONS);
    if (!widenReceiveWindow(server))
      log.warn('grpc-js keeps no server options: HTTP/2 stream windows stay at 64 KiB');
    register?.(server);
    const self = new ForwardServer(server, log.child({ component: 'forward-server' }));
    const pkg = forwardPackage();
    server.addService(pkg.Forward.service, {
      Commands: (stream: CommandStream) => self.#commands(executor, stream, security),
      Reset: (
        call: grpc.ServerUnaryCall<ResetRequest, ResetResponse>,
        cb: grpc.sendUnaryData<ResetResponse>,
      ) => {
        const denied = authorize(security, () => identityOf(call), call.request.originNode);
        if (denied) {
          self.#log.warn({ ...denied, rpc: 'Reset' }, 'forward call refused');
          cb(denied);
          return;
        }
        const ua = RESET_UNIT_ATTENTIONS.find((x) => x === call.request.unitAttention);
        if (!ua) {
          cb({
            code: grpc.status.INVALID_ARGUMENT,
            details: `not a reset unit attention: ${call.request.unitAttention}`,
          });
          return;
        }
        executor.resetFromPeer(call.request.volume, ua).then(
          (found) => cb(null, { found }),
          (err: unknown) => cb({ code: grpc.status.INTERNAL, details: (err as Error).message }),
        );
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, security?.credentials ?? grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
    if (!widenConnectionWindow(server))
      log.warn('grpc-js keeps no listeners: HTTP/2 connection windows stay at 64 KiB');
    const i = address.lastIndexOf(':');
    self.host = address.slice(0, i);
    self.port = port;
    return self;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** One forwarding node's stream: each command runs as it arrives; answers go back by id. */
  #commands(
    executor: ForwardedCommandExecutor,
    stream: CommandStream,
    security?: ForwardServerSecurity,
  ): void {
    /** Commands executing from this stream: their abort hooks. */
    const inflight = new Map<string, () => void>();
    // The caller's certificate is read once per stream, not per command: a stream stays on one
    // TLS connection, whose peer certificate cannot change (TLS 1.3: no renegotiation), and
    // getPeerCertificate() builds a new object with fingerprints on every call (~25 us of CPU
    // per forwarded command measured). Membership and origin are still checked per command.
    let caller: { id: PeerIdentity | undefined } | undefined;
    const callerOf = () => {
      caller ??= { id: identityOf(stream) };
      return caller.id;
    };
    let open = true;
    const abortAll = () => {
      open = false;
      for (const hook of inflight.values()) hook();
    };
    stream.on('data', (msg: ForwarderMessage) => {
      if (msg.abort) {
        inflight.get(msg.abort.id)?.();
        return;
      }
      if (!open) return;
      const req: ExecuteRequest | null | undefined = msg.execute;
      if (!req) return;
      const denied = authorize(security, callerOf, req.originNode);
      if (denied) {
        // The whole stream goes: it carries one forwarding node's commands, all under one identity.
        this.#log.warn({ ...denied, rpc: 'Commands' }, 'forward call refused');
        abortAll();
        stream.emit('error', Object.assign(new Error(denied.details), denied));
        return;
      }
      let fc: ReturnType<typeof fromRequest>;
      try {
        fc = fromRequest(req);
      } catch (err) {
        this.#log.warn(
          { err: (err as Error).message, id: req.id },
          'malformed forwarded command: stream closed',
        );
        stream.destroy(err as Error);
        return;
      }
      let abort: (() => void) | undefined;
      inflight.set(req.id, () => abort?.());
      executor
        .executeForwarded(fc, (hook) => {
          abort = hook;
        })
        .then(
          (c) => {
            if (open) stream.write(toResponse(req.id, c));
          },
          (err: unknown) => {
            this.#log.error({ err, volume: fc.volume, lun: fc.lun }, 'forwarded command failed');
            // No answer: the forwarding node reports a transition and the initiator retries.
            if (open) stream.destroy(err as Error);
          },
        )
        .finally(() => inflight.delete(req.id));
    });
    // The forwarding node is gone (or cancelled the stream): abort what it sent.
    stream.on('cancelled', abortAll);
    stream.on('error', abortAll);
    stream.on('end', () => {
      abortAll();
      stream.end();
    });
  }

  async close(): Promise<void> {
    await shutdownServer(this.#server);
  }
}

/**
 * The caller's certificate names a live member, and that member is the origin node the call
 * claims (issue #12: a forwarded command runs as the initiator's nexus, so whoever can forward
 * can act as any initiator). Plaintext (no credentials, `insecure: true`) checks nothing.
 */
function authorize(
  security: ForwardServerSecurity | undefined,
  callerOf: () => PeerIdentity | undefined,
  origin: string,
): Denied | undefined {
  if (!security?.credentials) return undefined;
  const id = callerOf();
  const code = grpc.status.PERMISSION_DENIED;
  if (!id || id.kind !== 'node') {
    return { code, details: `forwarding needs a node certificate (got ${id ? id.kind : 'none'})` };
  }
  if (!security.isMember(id.name)) return { code, details: `node ${id.name} is not a live cluster member` };
  if (origin !== id.name) {
    return {
      code,
      details: `origin node ${JSON.stringify(origin)} is not the certificate's node ${id.name}`,
    };
  }
  return undefined;
}
