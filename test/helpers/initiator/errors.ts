// Typed errors of the test initiator. Tests match on the class and its fields, never on message text.

export class InitiatorError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** RFC 7143 11.13.5: Status-Class/Status-Detail of a failed Login Response. */
export class LoginError extends InitiatorError {
  constructor(
    readonly statusClass: number,
    readonly statusDetail: number,
    /** Keys the target sent with the failure (TargetAddress on a redirect). */
    readonly keys: ReadonlyArray<readonly [string, string]> = [],
  ) {
    super(
      `login failed: status class 0x${hex2(statusClass)} detail 0x${hex2(statusDetail)} (${loginStatusName(statusClass, statusDetail)})`,
    );
  }
}

/** The initiator refused to go on with a login (bad mutual CHAP, unusable answer, too many rounds). */
export class LoginProtocolError extends InitiatorError {}

/** The target broke the protocol in a way that makes the connection unusable (framing, digest). */
export class ProtocolError extends InitiatorError {}

/** The target broke the protocol for one task; the connection lives on. */
export class ProtocolViolationError extends InitiatorError {
  constructor(
    readonly itt: number,
    readonly violations: readonly string[],
  ) {
    super(`task 0x${itt.toString(16)}: ${violations.join('; ')}`);
  }
}

export class DigestError extends ProtocolError {
  constructor(
    readonly which: 'header' | 'data',
    readonly expected: number,
    readonly received: number,
  ) {
    super(
      `${which} digest mismatch: computed 0x${expected.toString(16)}, received 0x${received.toString(16)}`,
    );
  }
}

export class TimeoutError extends InitiatorError {
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what} timed out after ${ms} ms`);
  }
}

/** The connection went away while the request was pending. */
export class ConnectionClosedError extends InitiatorError {}

/** The target answered the request with a Reject PDU (RFC 7143 11.17). */
export class RejectedError extends InitiatorError {
  constructor(
    readonly reason: number,
    readonly itt: number,
  ) {
    super(`target rejected task 0x${itt.toString(16)} with reason 0x${hex2(reason)}`);
  }
}

/** A task management function completed, so the target will not answer this task (RFC 7143 4.2.3.3). */
export class TaskAbortedError extends InitiatorError {
  constructor(
    readonly itt: number,
    readonly tmf: string,
  ) {
    super(`task 0x${itt.toString(16)} terminated by ${tmf}`);
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** RFC 7143 11.13.5 status names. */
export function loginStatusName(cls: number, detail: number): string {
  const table: Record<number, Record<number, string>> = {
    0: { 0: 'success' },
    1: { 1: 'target moved temporarily', 2: 'target moved permanently' },
    2: {
      0: 'initiator error',
      1: 'authentication failure',
      2: 'authorization failure',
      3: 'not found',
      4: 'target removed',
      5: 'unsupported version',
      6: 'too many connections',
      7: 'missing parameter',
      8: "can't include in session",
      9: 'session type not supported',
      10: 'session does not exist',
      11: 'invalid during login',
    },
    3: { 0: 'target error', 1: 'service unavailable', 2: 'out of resources' },
  };
  return table[cls]?.[detail] ?? 'unknown';
}
