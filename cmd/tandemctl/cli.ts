import fs from 'node:fs';
import type { Command } from 'commander';
import { AdminClient, DEFAULT_ADMIN_PORT } from '../../src/admin/admin-client.js';
import {
  type CredentialOptions,
  type Credentials,
  readCredentials,
  resolveCredentials,
} from './credentials.js';
import { type CliError, EXIT, explain, failureLine, usage } from './errors.js';

export const DEFAULT_ENDPOINT = `127.0.0.1:${DEFAULT_ADMIN_PORT}`;

export interface Globals {
  endpoint: string;
  json: boolean;
  timeout: number;
  /** The credential options as given; resolved when a command connects (certs needs none). */
  credentialOptions: CredentialOptions;
  /** Set by connect(): what it used (error lines name it). */
  credentials?: Credentials;
}

export function globals(cmd: Command): Globals {
  const o = cmd.optsWithGlobals<{ endpoint: string; json?: boolean; timeout: string } & CredentialOptions>();
  const timeout = Number(o.timeout);
  if (!(timeout > 0)) throw usage(`--timeout ${o.timeout}: expected seconds greater than 0`);
  if (!/^(\[[0-9a-fA-F:]+\]|[^:\s/]+):\d{1,5}$/.test(o.endpoint)) {
    throw usage(`--endpoint ${o.endpoint}: expected HOST:PORT`, `e.g. --endpoint ${DEFAULT_ENDPOINT}`);
  }
  return {
    endpoint: o.endpoint,
    json: o.json === true,
    timeout,
    credentialOptions: { ca: o.ca, cert: o.cert, key: o.key, tlsDir: o.tlsDir, insecure: o.insecure },
  };
}

let client: AdminClient | undefined;
export function connect(g: Globals): AdminClient {
  if (!client) {
    g.credentials = resolveCredentials(g.credentialOptions);
    client = new AdminClient(g.endpoint, {
      timeoutMs: g.timeout * 1000,
      tls: readCredentials(g.credentials),
    });
  }
  return client;
}

export const print = (text: string) => process.stdout.write(`${text}\n`);
export const printJson = (v: unknown) => print(JSON.stringify(v, null, 2));

export function fail(e: CliError): never {
  process.stderr.write(`${failureLine(e)}\n`);
  client?.close();
  process.exit(e.exitCode);
}

/** Wraps an action: resolves globals, runs, reports errors as one line with the right exit status. */
export function action<A extends unknown[]>(
  what: string | ((...args: string[]) => string),
  fn: (g: Globals, ...args: A) => Promise<number | undefined>,
) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const positional = args.slice(0, -1) as A;
    const label =
      typeof what === 'string'
        ? what
        : what(...(positional.filter((a) => typeof a === 'string') as string[]));
    let g: Globals | undefined;
    try {
      g = globals(cmd);
      const code = (await fn(g, ...positional)) ?? EXIT.ok;
      client?.close();
      process.exit(code);
    } catch (err) {
      fail(explain(err, label, g));
    }
  };
}

export function parseIntArg(name: string, text: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text)) throw usage(`${name} ${text}: expected a whole number`);
  const n = Number(text);
  if (n < min || n > max) throw usage(`${name} ${text}: expected ${min} to ${max}`);
  return n;
}

export function parseList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function readSecret(
  file: string | undefined,
  env: string | undefined,
  what: string,
): string | undefined {
  if (file !== undefined && env !== undefined)
    throw usage(`give ${what} with a file or an environment variable, not both`);
  if (file !== undefined) {
    try {
      return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw usage(
        `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        'check the file',
      );
    }
  }
  if (env !== undefined) {
    const v = process.env[env];
    if (v === undefined || v === '') throw usage(`environment variable ${env} is not set`, 'export it first');
    return v;
  }
  return undefined;
}
