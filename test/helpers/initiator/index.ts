// The test initiator's public surface.

// Sense and status come from the one wire helper (test/helpers/wire.ts); these names stay
// importable here for suites that have not switched their imports yet.
export { parseSense, type SenseData, SenseKey, Status as ScsiStatus } from '../wire.js';
export * from './cdb.js';
export * from './chap.js';
export * from './errors.js';
export * from './initiator.js';
export * from './pdu.js';
export * from './pdu-reader.js';
export * from './text-keys.js';
