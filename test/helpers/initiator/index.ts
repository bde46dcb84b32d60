// The test initiator's public surface.
export * from './cdb.js';
export * from './chap.js';
export * from './errors.js';
export * from './initiator.js';
export * from './pdu.js';
export * from './pdu-reader.js';
export * from './sense.js';
export * from './text-keys.js';
