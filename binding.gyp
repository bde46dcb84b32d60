{
  # Tandem's native helper (src/backstore/native/): fallocate(PUNCH_HOLE),
  # lseek(SEEK_DATA/SEEK_HOLE), reads from the page cache that never start I/O (a mapping checked
  # with mincore, preadv2 RWF_NOWAIT, cachestat) and its own reader threads, which Node's fs
  # lacks. npm runs `node-gyp rebuild` for a package with a binding.gyp at its root on
  # `npm ci`/`npm install`; the result is build/Release/tandem_native.node. Without it the file
  # backstore still works: every read goes through libuv's thread pool, discard writes zeroes
  # and every block reports mapped (src/backstore/native.ts).
  "targets": [
    {
      "target_name": "tandem_native",
      "sources": ["src/backstore/native/tandem-native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
