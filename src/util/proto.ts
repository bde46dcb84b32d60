import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

/**
 * The wire contracts in proto/ are loaded at run time with @grpc/proto-loader: the one way
 * Tandem uses protobuf (no generated code to keep in sync). Message shapes are camelCase,
 * 64-bit integers are JS numbers, enums are numbers, absent fields have their defaults and
 * oneofs name the field that is set.
 */

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

/** proto/`file` as @grpc/proto-loader presents it (the options every Tandem proto uses). */
export function loadProtoDefinition(file: string): protoLoader.PackageDefinition {
  return protoLoader.loadSync(file, {
    includeDirs: [protoRoot(file)],
    keepCase: false,
    longs: Number,
    enums: Number,
    defaults: true,
    oneofs: true,
  });
}

/** proto/`file` as a protobufjs Root (camelCase fields, as proto-loader presents them). */
export function loadProtoRoot(file: string): protobuf.Root {
  const root = new protobuf.Root();
  const dir = protoRoot(file);
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(dir, target));
  return root.loadSync(file, { keepCase: false });
}

/** Loads proto/`file` and returns the package object at `packageName` (e.g. tandem.admin.v1). */
export function loadProtoPackage<T>(file: string, packageName: string): T {
  return packageOf<T>(grpc.loadPackageDefinition(loadProtoDefinition(file)), file, packageName);
}

/** The object at `packageName` in a loaded package definition. */
export function packageOf<T>(loaded: grpc.GrpcObject, file: string, packageName: string): T {
  let node: unknown = loaded;
  for (const part of packageName.split('.')) node = (node as Record<string, unknown>)[part];
  if (!node) throw new Error(`proto/${file} has no package ${packageName}`);
  return node as T;
}

/**
 * Channel and server options of the node-to-node streams (command forwarding and replication
 * share one server): messages up to 64 MiB — the largest data-out or data-in (8 MiB transfers,
 * XCOPY, WRITE SAME) or a batch of coalesced writes, plus framing — and a wide HTTP/2 receive
 * window on the client side (replies: acks, read data), so a busy stream never waits for
 * WINDOW_UPDATE round trips. The server side is widened in src/cluster/forward-server.ts.
 */
export const PEER_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 64 << 20,
  'grpc.max_send_message_length': 64 << 20,
  'grpc-node.flow_control_window': 16 << 20,
};

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
