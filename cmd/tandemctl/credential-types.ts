/** Where tandemctl's credentials come from, and what they are (files, not yet read). */
export interface Credentials {
  /** Plaintext (a node with `insecure: true`). */
  readonly plaintext: boolean;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /** In words, for error lines: "--ca/--cert/--key", "TANDEM_TLS_DIR /x", "./data/tls". */
  readonly from: string;
}
