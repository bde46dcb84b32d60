// What an admin API call answered, for tests that assert on the gRPC status code.
import type * as grpc from '@grpc/grpc-js';
import { AdminCallError } from '../../src/admin/admin-client.js';

/** 'ok' when the call succeeded, else the gRPC status code it failed with (other errors rethrown). */
export async function codeOf(p: Promise<unknown>): Promise<grpc.status | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof AdminCallError) return err.grpcCode;
    throw err;
  }
}
