/*
 * Tandem's native helper: the file-space and page-cache system calls Node's fs lacks.
 *
 *   punchHole(fd, offset, length) -> Promise<void>
 *       fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE): deallocates the range; it
 *       reads back as zeroes (UNMAP, WRITE SAME with UNMAP; SBC-3 4.7.3.4, LBPRZ = 1).
 *   extent(fd, offset, length) -> Promise<{ mapped: boolean, length: number }>
 *       lseek(SEEK_DATA / SEEK_HOLE): whether `offset` is in data or in a hole and how far
 *       that run extends, capped at `length` (GET LBA STATUS; SBC-3 5.16).
 *
 * Both run on libuv's thread pool (napi_async_work): either can block on file system
 * metadata. Errors reject with an Error carrying `code` (e.g. "EOPNOTSUPP") and `errno`.
 *
 *   readNoWait(fd, buffers, position) -> number
 *       preadv2(RWF_NOWAIT), synchronously on the calling (event-loop) thread: reads only what
 *       the page cache already holds and never waits for the device. Returns the bytes read
 *       (short when only the start of the range is cached), or -errno: -EAGAIN when the first
 *       byte is not cached, -EOPNOTSUPP/-EINVAL where the file system has no RWF_NOWAIT. The
 *       caller reads the rest through the thread pool.
 *   isCached(fd, offset, length) -> number
 *       cachestat(2) (Linux 6.5+): 1 when every page of the range is in the page cache, 0 when
 *       one is not, -errno (-ENOSYS: no cachestat; -EPERM: not allowed on this fd). No I/O, no
 *       readahead: a probe that may run on the event loop before a read that would miss, since
 *       preadv2(RWF_NOWAIT) on a miss still starts the readahead I/O on the calling thread
 *       (mm/filemap.c filemap_get_pages: page_cache_sync_readahead before -EAGAIN).
 * Built by node-gyp from binding.gyp at the repository root; src/backstore/native.ts loads it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* glibc 2.26+ declares preadv2; RWF_NOWAIT is Linux 4.14+ (buffered reads). */
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

/* cachestat(2): the same number on every architecture (asm-generic/unistd.h), Linux 6.5+. */
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif
struct tandem_cachestat_range {
  uint64_t off;
  uint64_t len;
};
struct tandem_cachestat {
  uint64_t nr_cache;
  uint64_t nr_dirty;
  uint64_t nr_writeback;
  uint64_t nr_evicted;
  uint64_t nr_recently_evicted;
};

/* A read gathers at most this many buffers (IOV_MAX is 1024 on Linux). */
#define READ_MAX_IOV 256

enum op { OP_PUNCH, OP_EXTENT };

struct request {
  napi_async_work work;
  napi_deferred deferred;
  enum op op;
  int fd;
  int64_t offset;
  int64_t length;
  int err;
  int mapped;
  int64_t extent;
};

static void execute(napi_env env, void *data) {
  struct request *r = data;
  (void)env;
  if (r->op == OP_PUNCH) {
    if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)r->offset, (off_t)r->length) != 0) {
      r->err = errno;
    }
    return;
  }
  off_t end = (off_t)(r->offset + r->length);
  off_t data_at = lseek(r->fd, (off_t)r->offset, SEEK_DATA);
  if (data_at < 0) {
    if (errno == ENXIO) {
      /* No data at or after offset: a hole up to the end of the file. */
      r->mapped = 0;
      r->extent = r->length;
    } else {
      r->err = errno;
    }
    return;
  }
  if (data_at > (off_t)r->offset) {
    r->mapped = 0;
    r->extent = (data_at < end ? data_at : end) - (off_t)r->offset;
    return;
  }
  off_t hole_at = lseek(r->fd, (off_t)r->offset, SEEK_HOLE);
  if (hole_at < 0) {
    r->err = errno;
    return;
  }
  r->mapped = 1;
  r->extent = (hole_at < end ? hole_at : end) - (off_t)r->offset;
}

static const char *errno_code(int err) {
  switch (err) {
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EIO: return "EIO";
    case ENOSPC: return "ENOSPC";
    case EPERM: return "EPERM";
    case ENODEV: return "ENODEV";
    case ESPIPE: return "ESPIPE";
    case ENXIO: return "ENXIO";
    default: return "EUNKNOWN";
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  struct request *r = data;
  if (status != napi_ok || r->err != 0) {
    int err = r->err != 0 ? r->err : EIO;
    napi_value code, msg, error, errnum;
    char text[160];
    snprintf(text, sizeof text, "%s: %s", r->op == OP_PUNCH ? "fallocate(PUNCH_HOLE)" : "lseek(SEEK_DATA)",
             strerror(err));
    napi_create_string_utf8(env, errno_code(err), NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &error);
    napi_create_int32(env, err, &errnum);
    napi_set_named_property(env, error, "errno", errnum);
    napi_reject_deferred(env, r->deferred, error);
  } else if (r->op == OP_PUNCH) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, r->deferred, undef);
  } else {
    napi_value result, mapped, length;
    napi_create_object(env, &result);
    napi_get_boolean(env, r->mapped != 0, &mapped);
    napi_create_int64(env, r->extent, &length);
    napi_set_named_property(env, result, "mapped", mapped);
    napi_set_named_property(env, result, "length", length);
    napi_resolve_deferred(env, r->deferred, result);
  }
  napi_delete_async_work(env, r->work);
  free(r);
}

/*
 * The arguments of every range call, (fd, offset >= 0, length > 0). False, with a TypeError
 * thrown, when they are not that.
 */
static bool range_args(napi_env env, napi_callback_info info, int32_t *fd, int64_t *offset, int64_t *length) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_value_int32(env, argv[0], fd) != napi_ok || napi_get_value_int64(env, argv[1], offset) != napi_ok ||
      napi_get_value_int64(env, argv[2], length) != napi_ok || *fd < 0 || *offset < 0 || *length <= 0) {
    napi_throw_type_error(env, NULL, "expected (fd, offset >= 0, length > 0)");
    return false;
  }
  return true;
}

static napi_value start(napi_env env, napi_callback_info info, enum op op) {
  napi_value promise, name;
  int32_t fd;
  int64_t offset, length;
  if (!range_args(env, info, &fd, &offset, &length)) return NULL;
  struct request *r = calloc(1, sizeof *r);
  if (r == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  r->op = op;
  r->fd = fd;
  r->offset = offset;
  r->length = length;
  napi_create_promise(env, &r->deferred, &promise);
  napi_create_string_utf8(env, op == OP_PUNCH ? "tandem:punchHole" : "tandem:extent", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, r, &r->work);
  napi_queue_async_work(env, r->work);
  return promise;
}

static napi_value punch_hole(napi_env env, napi_callback_info info) { return start(env, info, OP_PUNCH); }

static napi_value extent(napi_env env, napi_callback_info info) { return start(env, info, OP_EXTENT); }

static napi_value read_no_wait(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  int32_t fd;
  int64_t position;
  uint32_t count;
  bool is_array = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_is_array(env, argv[1], &is_array) != napi_ok ||
      !is_array || napi_get_array_length(env, argv[1], &count) != napi_ok || count == 0 ||
      count > READ_MAX_IOV || napi_get_value_int64(env, argv[2], &position) != napi_ok || fd < 0 ||
      position < 0) {
    napi_throw_type_error(env, NULL, "expected (fd, buffers[1..256], position >= 0)");
    return NULL;
  }
  struct iovec iov[READ_MAX_IOV];
  for (uint32_t i = 0; i < count; i++) {
    napi_value b;
    void *data;
    size_t len;
    if (napi_get_element(env, argv[1], i, &b) != napi_ok || napi_get_buffer_info(env, b, &data, &len) != napi_ok) {
      napi_throw_type_error(env, NULL, "expected an array of Buffers");
      return NULL;
    }
    iov[i].iov_base = data;
    iov[i].iov_len = len;
  }
  ssize_t n;
  do {
    n = preadv2(fd, iov, (int)count, (off_t)position, RWF_NOWAIT);
  } while (n < 0 && errno == EINTR);
  napi_create_int64(env, n < 0 ? -(int64_t)errno : (int64_t)n, &result);
  return result;
}

static napi_value is_cached(napi_env env, napi_callback_info info) {
  napi_value result;
  int32_t fd;
  int64_t offset, length;
  if (!range_args(env, info, &fd, &offset, &length)) return NULL;
  static long page = 0;
  if (page == 0) page = sysconf(_SC_PAGESIZE);
  struct tandem_cachestat_range range = {(uint64_t)offset, (uint64_t)length};
  struct tandem_cachestat cs;
  memset(&cs, 0, sizeof cs);
  int64_t r;
  if (syscall(__NR_cachestat, fd, &range, &cs, 0) != 0) {
    r = -(int64_t)errno;
  } else {
    /* The pages the range touches, a partial page at either end included. */
    int64_t first = offset / page, last = (offset + length - 1) / page;
    r = (int64_t)cs.nr_cache >= last - first + 1 ? 1 : 0;
  }
  napi_create_int64(env, r, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"readNoWait", NULL, read_no_wait, NULL, NULL, NULL, napi_default, NULL},
      {"isCached", NULL, is_cached, NULL, NULL, NULL, napi_default, NULL},
      {"punchHole", NULL, punch_hole, NULL, NULL, NULL, napi_default, NULL},
      {"extent", NULL, extent, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
