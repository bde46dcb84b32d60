/**
 * The cluster layer's retry policy: THE policy is src/util/retry.ts, bound to etcd in
 * etcd-retry.ts. This path stays for the modules and tests that import it.
 */
export {
  abortError,
  backoffDelay,
  clusterBackoff,
  etcdFaultOptions,
  isRetryable,
  RETRY_POLICY,
  type RetryOptions,
  sleep,
  toClusterError,
  withRetry,
} from './etcd-retry.js';
