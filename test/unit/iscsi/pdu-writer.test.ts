// The send side of a connection (src/iscsi/pdu-writer.ts): PDU framing with digests and padding
// (RFC 7143 11.2.4, 13.1), the data segment length stamped into the BHS, one cork per event-loop
// turn, `sent` once the socket has the bytes, the high-water mark. On a recording socket.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { PduWriter } from '../../../src/iscsi/pdu-writer.js';
import { crc32c } from '../../../src/util/crc32c.js';

class RecordingSocket {
  readonly chunks: Buffer[] = [];
  readonly events: string[] = [];
  destroyed = false;
  writableLength = 0;
  write(b: Buffer, cb?: () => void): boolean {
    this.chunks.push(Buffer.from(b));
    this.events.push(`write ${b.length}`);
    if (cb) queueMicrotask(cb);
    return true;
  }
  cork(): void {
    this.events.push('cork');
  }
  uncork(): void {
    this.events.push('uncork');
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function digest(...parts: Buffer[]): Buffer {
  const d = Buffer.alloc(4);
  d.writeUInt32LE(crc32c(...parts), 0);
  return d;
}

function header(opcode: number): Buffer {
  const h = Buffer.alloc(48);
  h[0] = opcode;
  h[1] = 0x80;
  h.writeUInt32BE(0x01020304, 16);
  return h;
}

function writer(sock: RecordingSocket, opts: { closed?: () => boolean; highWater?: () => void } = {}) {
  const flushes: number[] = [];
  const w = new PduWriter(
    sock as unknown as Socket,
    opts.closed ?? (() => false),
    () => flushes.push(sock.chunks.length),
    opts.highWater ?? (() => {}),
  );
  return { w, flushes };
}

const sent = () => {
  let resolve!: () => void;
  const p = new Promise<void>((r) => (resolve = r));
  return { p, cb: () => resolve() };
};

describe('PduWriter framing', () => {
  for (const [hd, dd] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`header + 5 data bytes + 3 pad bytes (HeaderDigest ${hd}, DataDigest ${dd})`, async () => {
      const sock = new RecordingSocket();
      const { w } = writer(sock);
      w.configure(hd, dd);
      const data = Buffer.from([1, 2, 3, 4, 5]);
      const s = sent();
      w.write(header(0x25), data, s.cb);
      await s.p;
      const hdr = header(0x25);
      hdr.writeUIntBE(5, 5, 3); // DataSegmentLength
      const pad = Buffer.alloc(3);
      const want = Buffer.concat([
        hdr,
        hd ? digest(hdr) : Buffer.alloc(0),
        data,
        pad,
        dd ? digest(data, pad) : Buffer.alloc(0),
      ]);
      expect(sock.bytes().equals(want)).toBe(true);
    });
  }

  it('no data: the header only (no data digest), DataSegmentLength 0, sent at once', () => {
    const sock = new RecordingSocket();
    const { w } = writer(sock);
    w.configure(true, true);
    let done = false;
    const h = header(0x21);
    h.writeUIntBE(0xabcdef, 5, 3); // stale length: the writer stamps the real one
    w.write(h, Buffer.alloc(0), () => (done = true));
    expect(done).toBe(true);
    const got = sock.bytes();
    expect(got.length).toBe(48 + 4);
    expect(got.readUIntBE(5, 3)).toBe(0);
    expect(got.subarray(48).equals(digest(got.subarray(0, 48)))).toBe(true);
  });

  it('data a multiple of 4 needs no padding', () => {
    const sock = new RecordingSocket();
    const { w } = writer(sock);
    w.write(header(0x25), Buffer.alloc(8, 7));
    expect(sock.bytes().length).toBe(48 + 8);
  });

  it('a closed connection writes nothing and still calls `sent`', () => {
    const sock = new RecordingSocket();
    const { w } = writer(sock, { closed: () => true });
    let done = false;
    w.write(header(0x21), Buffer.alloc(4), () => (done = true));
    expect(done).toBe(true);
    expect(sock.chunks).toEqual([]);
  });

  it('past the high-water mark of queued output, onHighWater runs', () => {
    const sock = new RecordingSocket();
    let high = 0;
    const { w } = writer(sock, { highWater: () => high++ });
    w.write(header(0x21), Buffer.alloc(0));
    expect(high).toBe(0);
    sock.writableLength = 33 << 20;
    w.write(header(0x21), Buffer.alloc(0));
    expect(high).toBe(1);
  });
});

describe('PduWriter batching', () => {
  it('one cork per event-loop turn; beforeFlush then uncork on the next turn', async () => {
    const sock = new RecordingSocket();
    const { w, flushes } = writer(sock);
    w.batch();
    w.write(header(0x21), Buffer.alloc(0));
    w.batch();
    w.write(header(0x21), Buffer.alloc(0));
    expect(sock.events).toEqual(['cork', 'write 48', 'write 48']);
    await new Promise((r) => setImmediate(r));
    expect(sock.events).toEqual(['cork', 'write 48', 'write 48', 'uncork']);
    expect(flushes).toEqual([2]);
    w.batch();
    expect(sock.events.at(-1)).toBe('cork');
  });

  it('whenSent runs after every write queued before it', async () => {
    const sock = new RecordingSocket();
    const { w } = writer(sock);
    const order: string[] = [];
    w.write(header(0x25), Buffer.alloc(4), () => order.push('pdu'));
    const s = sent();
    w.whenSent(() => {
      order.push('whenSent');
      s.cb();
    });
    await s.p;
    expect(order).toEqual(['pdu', 'whenSent']);
  });
});
