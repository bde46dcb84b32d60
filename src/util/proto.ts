import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/**
 * The wire contracts in proto/ are loaded at run time with protobufjs (its reflection compiles an
 * encoder and a decoder per message, as fast as a static module): the one way Tandem uses
 * protobuf. Their TypeScript types are generated into src/gen/ (`npm run proto`).
 *
 * Decoded messages are what @grpc/proto-loader presents with the options below, and what the
 * `__Output` types of src/gen/ describe: camelCase fields, 64-bit integers and enums as numbers,
 * absent fields with their defaults, oneofs naming the set field in `kind`.
 */
const OBJECT_OPTIONS: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
};

/** Finds proto/ above this module (src/util under vitest, dist/src/util when built). */
function protoRoot(file: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'proto');
    if (fs.existsSync(path.join(candidate, file))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find proto/${file} above ${fileURLToPath(import.meta.url)}`);
}

/** proto/`file` as a resolved protobufjs Root (camelCase fields). */
export function loadProtoRoot(file: string): protobuf.Root {
  const root = new protobuf.Root();
  const dir = protoRoot(file);
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(dir, target));
  root.loadSync(file, { keepCase: false }).resolveAll();
  return root;
}

/**
 * The grpc-js client constructor (and, as its `service`, the server definition) of the service
 * `serviceName` in proto/`file`. Messages are encoded straight from the objects Tandem builds,
 * without proto-loader's `fromObject` copy first: they are typed with the generated `__Output`
 * types, so they already have the wire types (numbers, Buffers, nested plain objects). That copy
 * was the largest single cost of sending a batch of replicated writes. Decoding is proto-loader's.
 */
export function loadService(file: string, serviceName: string): grpc.ServiceClientConstructor {
  const service = loadProtoRoot(file).lookupService(serviceName);
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    const req = method.resolvedRequestType;
    const res = method.resolvedResponseType;
    if (!req || !res) throw new Error(`proto/${file}: ${serviceName}.${method.name} is not resolved`);
    definition[method.name] = {
      path: `/${serviceName}/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: encoder(req),
      requestDeserialize: decoder(req),
      responseSerialize: encoder(res),
      responseDeserialize: decoder(res),
      // proto-loader's clients also answer to the method's lowerCamelCase name.
      originalName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
    };
  }
  return grpc.makeGenericClientConstructor(definition, service.name);
}

function encoder(type: protobuf.Type): (message: object) => Buffer {
  return (message) => type.encode(message as protobuf.Message).finish() as Buffer;
}

function decoder(type: protobuf.Type): (bytes: Buffer) => object {
  return (bytes) => type.toObject(type.decode(bytes), OBJECT_OPTIONS);
}

/**
 * Channel and server options of the node-to-node streams (command forwarding and replication
 * share one server): messages up to 64 MiB — the largest data-out or data-in (8 MiB transfers,
 * XCOPY, WRITE SAME) or a batch of coalesced writes, plus framing — and a wide HTTP/2 receive
 * window on the client side (replies: acks, read data), so a busy stream never waits for
 * WINDOW_UPDATE round trips. The server side is widened in src/cluster/forward-server.ts.
 *
 * Keepalive both ways: a connection whose other end stopped answering (a node that died without
 * a FIN, a partition) ends within keepalive time + timeout, with its calls: a replica must not
 * keep an abandoned primary's Mirror stream open (issue #14 finding 2).
 */
export const PEER_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 64 << 20,
  'grpc.max_send_message_length': 64 << 20,
  'grpc-node.flow_control_window': 16 << 20,
  'grpc.keepalive_time_ms': 5_000,
  'grpc.keepalive_timeout_ms': 5_000,
};

/**
 * PEER_CHANNEL_OPTIONS for a channel to node `node`. Peers are dialed by address, usually an IP,
 * and grpc-js sends the dialed host as the TLS server name (SNI), which RFC 6066 forbids for an
 * IP (Node: DEP0123 warning). The node name is sent instead: the peer's identity is verified by
 * the certificate's node name either way (checkPeerNode in src/security/tls.ts, which this
 * override leaves in place), and plaintext channels ignore the option.
 */
export function peerChannelOptions(node: string): grpc.ChannelOptions {
  return { ...PEER_CHANNEL_OPTIONS, 'grpc.ssl_target_name_override': node };
}

/**
 * Stops a gRPC server: lets calls in progress finish, and cancels what is left after `graceMs`.
 * Resolves once the server is down either way.
 */
export function shutdownServer(server: grpc.Server, graceMs = 2000): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
