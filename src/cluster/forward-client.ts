import * as grpc from '@grpc/grpc-js';
import {
  type CommandForwarder,
  type ForwardedCommand,
  type ForwardedCompletion,
  ForwardOutcomeUnknown,
  type ResetUnitAttention,
} from '../scsi/forwarding.js';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { peerChannelOptions } from '../util/proto.js';
import {
  type ExecuteResponse,
  type ForwarderMessage,
  type ForwardServiceClient,
  forwardPackage,
  fromResponse,
  toRequest,
} from './forward-proto.js';

/** Where a volume's primary takes forwarded commands, as this node knows it now. */
export interface PrimaryEndpoint {
  readonly node: string;
  /** gRPC HOST:PORT. */
  readonly address: string;
}

export interface ForwardClientOptions {
  readonly originNode: string;
  /** The volume's primary (undefined: none known, so nothing can be forwarded). */
  readonly primaryOf: (volume: string) => PrimaryEndpoint | undefined;
  /** Every other live node serving the volume (resets reach them all). */
  readonly peersOf: (volume: string) => PrimaryEndpoint[];
  readonly logger: Logger;
  /**
   * Backstop for a primary that stops answering without closing its connection (SIGSTOP): the
   * leader change normally fails such commands first (`primaryChanged`). Below the initiators'
   * usual 30 s SCSI timeout.
   */
  readonly deadlineMs?: number;
  /**
   * After the deadline or a primary change, how long the abort sent to the old primary may take
   * to bring its answer back before the outcome counts as unknown. Default 2500 ms.
   */
  readonly abortGraceMs?: number;
  /** How long a command waits for the channel to connect before it is refused unsent. Default 3000 ms. */
  readonly connectTimeoutMs?: number;
  /** Credentials for dialing a node (mutual TLS, security/tls.ts); absent: plaintext. */
  readonly credentials?: (node: string) => grpc.ChannelCredentials;
}

interface Pending {
  readonly id: string;
  readonly volume: string;
  readonly node: string;
  readonly link: Link;
  readonly resolve: (c: ForwardedCompletion) => void;
  readonly reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  /** The answer is in doubt (deadline, primary change): the abort is sent, the grace runs. */
  inDoubt: string | undefined;
}

/** One primary's client and its Commands stream (opened on first use, again after it breaks). */
interface Link {
  readonly address: string;
  readonly client: ForwardServiceClient;
  stream: grpc.ClientDuplexStream<ForwarderMessage, ExecuteResponse> | undefined;
  readonly pending: Map<string, Pending>;
  /** The stream broke and no answer has come since: the primary may be gone. */
  broken: boolean;
}

/** The Active/Non-optimized end of command forwarding. */
export class ForwardClient implements CommandForwarder {
  readonly #opts: ForwardClientOptions;
  readonly #links = new Map<string, Link>();
  readonly #log: Logger;
  #closed = false;

  constructor(opts: ForwardClientOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'forward-client' });
  }

  #link(address: string, node: string): Link {
    let l = this.#links.get(address);
    if (!l) {
      const Ctor = forwardPackage().Forward;
      const client = new Ctor(
        address,
        this.#opts.credentials?.(node) ?? grpc.credentials.createInsecure(),
        peerChannelOptions(node),
      ) as unknown as ForwardServiceClient;
      l = { address, client, stream: undefined, pending: new Map(), broken: false };
      this.#links.set(address, l);
    }
    return l;
  }

  #stream(l: Link): grpc.ClientDuplexStream<ForwarderMessage, ExecuteResponse> {
    if (l.stream) return l.stream;
    const stream = l.client.Commands();
    l.stream = stream;
    stream.on('data', (res: ExecuteResponse) => {
      const p = l.pending.get(res.id);
      l.broken = false;
      if (!p) return; // already failed locally
      const c = fromResponse(res);
      // An abort this node sent on its own (not the initiator's) does not say the command did
      // not run: the primary may have executed it before it saw the abort.
      if (p.inDoubt && c.aborted) {
        this.#unknown(p, `${p.inDoubt}; the primary aborted it`);
        return;
      }
      this.#settle(p);
      p.resolve(c);
    });
    const broken = (why: string) => {
      if (l.stream !== stream) return;
      l.stream = undefined;
      l.broken = true;
      // Every pending command was written: the primary may have run it (finding 7).
      for (const p of [...l.pending.values()]) this.#unknown(p, `stream to ${l.address} ended: ${why}`);
    };
    stream.on('error', (err: grpc.ServiceError) => broken(err.details ?? err.message));
    stream.on('end', () => broken('closed by the primary'));
    stream.on('close', () => broken('closed'));
    return stream;
  }

  #settle(p: Pending): void {
    clearTimeout(p.timer);
    p.link.pending.delete(p.id);
  }

  /** Sent, and no trustworthy answer: the primary may have run it. */
  #unknown(p: Pending, why: string): void {
    this.#settle(p);
    this.#log.warn({ volume: p.volume, primary: p.node, why }, 'forwarded command outcome unknown');
    p.reject(new ForwardOutcomeUnknown(`${p.volume}: forwarded to ${p.node}, outcome unknown: ${why}`));
  }

  /**
   * The answer is in doubt but may still come: ask the primary to abort its copy and give the
   * answer a short grace (it is the truth if it comes: GOOD, or the check the primary returned).
   */
  #doubt(p: Pending, why: string): void {
    if (p.inDoubt) return;
    p.inDoubt = why;
    this.#send(p.link, { abort: { id: p.id, originNode: this.#opts.originNode } });
    clearTimeout(p.timer);
    p.timer = setTimeout(
      () => this.#unknown(p, `${why}; no answer to the abort`),
      this.#opts.abortGraceMs ?? 2500,
    );
  }

  /**
   * Whether commands forwarded to `address` can get through now (DESIGN.md: TEST UNIT READY
   * must fail the moment a port cannot do I/O). After the stream broke, only a channel that
   * has reconnected counts; a channel in TRANSIENT_FAILURE never does.
   */
  reachable(address: string): boolean {
    const l = this.#links.get(address);
    if (!l) return true; // never used: the first command will connect
    const channel = l.client.getChannel();
    const state = channel.getConnectivityState(l.broken);
    if (state === grpc.connectivityState.READY) {
      l.broken = false;
      return true;
    }
    if (l.broken) return false;
    return state !== grpc.connectivityState.TRANSIENT_FAILURE && state !== grpc.connectivityState.SHUTDOWN;
  }

  forward(fc: ForwardedCommand, onAbort: (hook: () => void) => void): Promise<ForwardedCompletion> {
    const primary = this.#closed ? undefined : this.#opts.primaryOf(fc.volume);
    if (!primary) return Promise.reject(unavailable(fc.volume, 'no primary to forward to'));
    const link = this.#link(primary.address, primary.node);
    let abortedHere = false;
    let abortSent: (() => void) | undefined;
    // Ask the primary to abort its copy; the answer still comes when it is done.
    onAbort(() => {
      abortedHere = true;
      abortSent?.();
    });
    return this.#connected(link).then(
      (ready) =>
        new Promise<ForwardedCompletion>((resolve, reject) => {
          // Not sent yet: refusing now is "not executed", the truth (finding 7).
          if (!ready) return reject(unavailable(fc.volume, `${primary.address} is not connected`));
          if (abortedHere) return reject(unavailable(fc.volume, 'aborted before it was sent'));
          if (this.#closed || this.#opts.primaryOf(fc.volume)?.address !== primary.address) {
            return reject(unavailable(fc.volume, 'the primary changed before it was sent'));
          }
          let stream: grpc.ClientDuplexStream<ForwarderMessage, ExecuteResponse>;
          try {
            stream = this.#stream(link);
          } catch (err) {
            return reject(err as Error);
          }
          const p: Pending = {
            id: fc.id,
            volume: fc.volume,
            node: primary.node,
            link,
            resolve,
            reject,
            timer: setTimeout(
              () => this.#doubt(p, 'no answer before the deadline'),
              this.#opts.deadlineMs ?? 25_000,
            ),
            inDoubt: undefined,
          };
          link.pending.set(fc.id, p);
          stream.write({ execute: toRequest(fc, this.#opts.originNode) });
          abortSent = () => this.#send(link, { abort: { id: fc.id, originNode: this.#opts.originNode } });
        }),
    );
  }

  /**
   * Resolves true once the link's channel is READY (so a command written now goes out on a
   * connection), false if it is not within connectTimeoutMs: then nothing was sent.
   */
  #connected(l: Link): Promise<boolean> {
    const channel = l.client.getChannel();
    if (channel.getConnectivityState(true) === grpc.connectivityState.READY) return Promise.resolve(true);
    const deadline = Date.now() + (this.#opts.connectTimeoutMs ?? 3000);
    return new Promise((resolve) => l.client.waitForReady(deadline, (err) => resolve(!err)));
  }

  #send(link: Link, msg: ForwarderMessage): void {
    try {
      link.stream?.write(msg);
    } catch (err) {
      this.#log.debug({ err: (err as Error).message }, 'could not write to the forwarding stream');
    }
  }

  async resetPeers(volume: string, ua: ResetUnitAttention): Promise<void> {
    if (this.#closed) return;
    const origin = this.#opts.originNode;
    await Promise.all(
      this.#opts.peersOf(volume).map(
        (peer) =>
          new Promise<void>((resolve) => {
            this.#link(peer.address, peer.node).client.Reset(
              { originNode: origin, volume, unitAttention: ua },
              { deadline: Date.now() + 5000 },
              (err) => {
                // A node that cannot be reached has no nexus to tell (or is being fenced).
                if (err)
                  this.#log.warn(
                    { volume, peer: peer.node, err: err.details },
                    'reset not delivered to a peer',
                  );
                resolve();
              },
            );
          }),
      ),
    );
  }

  /**
   * The volume's primary changed: commands still waiting on another node may never be answered
   * (the old primary lost its role and fences itself). Each is aborted there; an answer that
   * comes within the grace is passed on, else its outcome is unknown (finding 7).
   */
  primaryChanged(volume: string, node: string | undefined): void {
    for (const l of this.#links.values()) {
      for (const p of [...l.pending.values()]) {
        if (p.volume === volume && p.node !== node) {
          this.#log.info({ volume, from: p.node, to: node }, 'primary changed: aborting a forwarded command');
          this.#doubt(p, `primary changed to ${node ?? 'none'}`);
        }
      }
    }
  }

  close(): void {
    this.#closed = true;
    for (const l of this.#links.values()) {
      for (const p of [...l.pending.values()]) this.#unknown(p, 'node stopping');
      l.stream?.cancel();
      l.client.close();
    }
    this.#links.clear();
  }
}

function unavailable(volume: string, why: string): TandemError {
  return new TandemError('TANDEM_ERR_FORWARD_UNAVAILABLE', `${volume}: not forwarded: ${why}`, {
    retryable: true,
  });
}
