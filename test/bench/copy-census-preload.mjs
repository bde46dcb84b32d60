// node --import test/bench/copy-census-preload.mjs dist/cmd/tandemd.js ...: counts, inside that
// process, every copy of written data made in JavaScript (test/bench/copy-census.mjs starts it).
//
// It wraps the ways JS copies bytes: Buffer.prototype.copy, Buffer.concat, Buffer.from(view),
// Buffer.copyBytesFrom, %TypedArray%.prototype.set and .slice, ArrayBuffer.prototype.slice. A copy
// counts as written data when its source bytes hold CENSUS_MAGIC (the census writes nothing
// else: every written block is that 8-byte pattern repeated), so headers, CDBs and sense never
// count. Each counted copy is attributed to its call site (the first stack frame outside this
// file, source-mapped with --enable-source-maps) and, when that frame is a library's, to the
// nearest frame in the project's own code. Node's C++ (socket reads, pwritev) is not seen.
//
// Control: a Unix socket at $CENSUS_SOCKET ("%p" in it: this process's PID, for the nodes of a
// cluster started with NODE_OPTIONS=--import ...); a line "reset" zeroes the counters, "snap" answers
// one JSON line { sites: [{ site, via, kind, calls, bytes }] }.
import net from 'node:net';

const MAGIC = Buffer.from(process.env.CENSUS_MAGIC ?? 'TNDMCPY!', 'latin1');
const SELF = new URL(import.meta.url).pathname;
let sites = new Map();
let depth = 0;

const TypedArrayProto = Object.getPrototypeOf(Uint8Array.prototype);
const orig = {
  copy: Buffer.prototype.copy,
  concat: Buffer.concat,
  from: Buffer.from,
  copyBytesFrom: Buffer.copyBytesFrom,
  set: TypedArrayProto.set,
  slice: TypedArrayProto.slice,
  abSlice: ArrayBuffer.prototype.slice,
};
const includes = Buffer.prototype.includes;

function isData(view, start, end) {
  if (!ArrayBuffer.isView(view) || end - start < MAGIC.length) return false;
  const b = Buffer.isBuffer(view)
    ? view
    : orig.from.call(Buffer, view.buffer, view.byteOffset, view.byteLength);
  return includes.call(b.subarray(start, end), MAGIC);
}

function frames() {
  const lines = (new Error().stack ?? '').split('\n').slice(1);
  return lines
    .map((l) => l.trim().replace(/^at /, ''))
    .filter((l) => !l.includes(SELF) && !l.startsWith('new Promise') && !l.includes('<anonymous>'));
}

/** "file:line" of a frame, relative to the checkout: "src/iscsi/pdu-reader.ts:205 (PduReader.#take)". */
function where(frame) {
  const m = /^(?:(.*) \()?(?:file:\/\/)?(.+?):(\d+):\d+\)?$/.exec(frame);
  if (!m) return frame;
  const file = m[2].replace(/^.*?\/(src|cmd|node_modules)\//, '$1/');
  return `${file}:${m[3]}${m[1] ? ` (${m[1]})` : ''}`;
}

function own(frame) {
  return /\/(src|cmd)\//.test(frame) && !frame.includes('/node_modules/');
}

/** Runs a wrapped original with counting off, so a copy made inside another counts once. */
function inner(fn, self, args) {
  depth++;
  try {
    return Reflect.apply(fn, self, args);
  } finally {
    depth--;
  }
}

function count(kind, bytes) {
  if (bytes <= 0) return;
  depth++;
  try {
    const fs = frames();
    const first = fs[0] ?? '?';
    const caller = fs.find(own);
    const via = own(first) ? '' : caller ? where(caller) : '(no own frame on the stack)';
    const site = where(first);
    const key = `${kind}|${site}|${via}`;
    const s = sites.get(key) ?? { site, via, kind, calls: 0, bytes: 0 };
    s.calls++;
    s.bytes += bytes;
    sites.set(key, s);
  } finally {
    depth--;
  }
}

Buffer.prototype.copy = function copy(target, targetStart = 0, sourceStart = 0, sourceEnd = this.length) {
  const n = inner(orig.copy, this, [target, targetStart, sourceStart, sourceEnd]);
  if (depth === 0 && isData(this, sourceStart, sourceStart + n)) count('Buffer#copy', n);
  return n;
};

Buffer.concat = function concat(list, totalLength) {
  const out = inner(orig.concat, Buffer, [list, totalLength]);
  if (depth === 0) {
    let n = 0;
    let room = out.length;
    for (const b of list) {
      const k = Math.min(b.length, room);
      room -= k;
      if (isData(b, 0, k)) n += k;
    }
    count('Buffer.concat', n);
  }
  return out;
};

Buffer.from = function from(value, ...rest) {
  const out = inner(orig.from, Buffer, [value, ...rest]);
  // Buffer.from(arrayBuffer) is a view; Buffer.from(view) copies.
  if (depth === 0 && ArrayBuffer.isView(value) && isData(value, 0, value.byteLength)) {
    count('Buffer.from(view)', value.byteLength);
  }
  return out;
};

if (orig.copyBytesFrom) {
  Buffer.copyBytesFrom = function copyBytesFrom(view, offset, length) {
    const out = inner(orig.copyBytesFrom, Buffer, [view, offset, length]);
    if (depth === 0 && isData(out, 0, out.length)) count('Buffer.copyBytesFrom', out.length);
    return out;
  };
}

TypedArrayProto.set = function set(source, offset) {
  inner(orig.set, this, [source, offset]);
  if (depth === 0 && ArrayBuffer.isView(source) && isData(source, 0, source.length)) {
    count('TypedArray#set', source.length);
  }
};

// Buffer.prototype.slice is a view (Buffer's own); a Uint8Array's slice copies.
TypedArrayProto.slice = function slice(start, end) {
  const out = inner(orig.slice, this, [start, end]);
  if (depth === 0 && isData(out, 0, out.length)) count('TypedArray#slice', out.length);
  return out;
};

ArrayBuffer.prototype.slice = function slice(start, end) {
  const out = inner(orig.abSlice, this, [start, end]);
  if (depth === 0 && out.byteLength >= MAGIC.length) {
    const v = orig.from.call(Buffer, out);
    if (includes.call(v, MAGIC)) count('ArrayBuffer#slice', out.byteLength);
  }
  return out;
};

const socketPath = process.env.CENSUS_SOCKET?.replaceAll('%p', String(process.pid));
if (socketPath) {
  const server = net.createServer((conn) => {
    let text = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk) => {
      text += chunk;
      let nl = text.indexOf('\n');
      while (nl >= 0) {
        const cmd = text.slice(0, nl).trim();
        text = text.slice(nl + 1);
        nl = text.indexOf('\n');
        depth++;
        try {
          if (cmd === 'reset') {
            sites = new Map();
            conn.write('ok\n');
          } else if (cmd === 'snap') {
            conn.write(`${JSON.stringify({ sites: [...sites.values()] })}\n`);
          } else {
            conn.write(`error unknown command ${cmd}\n`);
          }
        } finally {
          depth--;
        }
      }
    });
  });
  server.listen(socketPath);
  server.unref();
}
