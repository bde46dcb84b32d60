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
 *   mapFile(fd, length) -> external | number
 *       mmap(PROT_READ, MAP_SHARED) of the file's first `length` bytes, madvise(MADV_RANDOM):
 *       the handle readMapped copies from, or -errno where the file cannot be mapped (a file
 *       system without mmap, FUSE with direct_io: ENODEV). unmapFile(handle) releases it;
 *       a handle left to the garbage collector is released then.
 *   readMapped(handle, buffer, position) -> number
 *       Copies [position, position + buffer.length) out of the mapping, on the calling
 *       (event-loop) thread, only when mincore(2) finds every page of it in the page cache and
 *       up to date: buffer.length, or -EAGAIN when a page is not (the caller reads through the
 *       thread pool), -ERANGE past the mapping, -EFAULT when the file shrank underneath and the
 *       copy touched a page past its end (SIGBUS, caught). Unlike preadv2(RWF_NOWAIT), which
 *       starts readahead I/O on the calling thread when it meets a readahead mark or a missing
 *       page and then waits for a block-layer request tag once the device queue is full
 *       (blk_mq_get_tag, measured at 5-13 ms on the loop), a copy from a MADV_RANDOM mapping
 *       never starts readahead (mm/filemap.c do_async_mmap_readahead: VM_RAND_READ), and
 *       mincore reports only up-to-date pages, so a page still being read in goes to the pool
 *       too. What remains is the window between mincore and the copy: a page evicted in it is
 *       read in by the fault, on this thread (memory pressure only).
 *   dropMapped(handle, offset, length) -> number
 *       madvise(MADV_DONTNEED) over that part of the mapping: unmaps the pages the copies
 *       faulted in (the page cache keeps them), so the process's resident file pages, which
 *       count in its RSS and in the OOM killer's score, stay bounded. 0 or -errno.
 *   readPooled(fd, buffer, position) -> Promise<number>
 *       pread on one of the helper's own reader threads, for reads not in the page cache: the
 *       bytes read (0 at the end of the file), or a rejection with `code` and `errno`. Unlike
 *       libuv's thread pool, submitting never takes a lock a pool thread can hold: libuv's
 *       uv__work_submit signals a condition variable, and glibc's pthread_cond_signal waits for
 *       woken threads that have not run yet (__condvar_quiesce_and_switch_g1), measured at up
 *       to 2.9 ms on the event loop of a busy 2-core machine. Here the loop claims no lock at
 *       all: it puts the request in a ring (atomic indices; a full ring answers -EAGAIN and the
 *       caller uses the pool), bumps a futex word and wakes one reader only if one sleeps
 *       (FUTEX_WAKE does not block); readers push results on a lock-free list and wake the loop
 *       with uv_async_send, which is lock-free too.
 * Built by node-gyp from binding.gyp at the repository root; src/backstore/native.ts loads it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <node_api.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

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

/* Rejects with an Error "CALL: strerror" carrying `code` (e.g. "EOPNOTSUPP") and `errno`. */
static void reject_errno(napi_env env, napi_deferred deferred, const char *call, int err) {
  napi_value code, msg, error, errnum;
  char text[160];
  snprintf(text, sizeof text, "%s: %s", call, strerror(err));
  napi_create_string_utf8(env, errno_code(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_reject_deferred(env, deferred, error);
}

static void complete(napi_env env, napi_status status, void *data) {
  struct request *r = data;
  if (status != napi_ok || r->err != 0) {
    int err = r->err != 0 ? r->err : EIO;
    reject_errno(env, r->deferred, r->op == OP_PUNCH ? "fallocate(PUNCH_HOLE)" : "lseek(SEEK_DATA)", err);
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

static size_t page_size(void) {
  static size_t page = 0;
  if (page == 0) page = (size_t)sysconf(_SC_PAGESIZE);
  return page;
}

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
  int64_t page = (int64_t)page_size();
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

/* ---- mapped reads ------------------------------------------------------------------------ */

struct mapping {
  uint8_t *base; /* NULL once unmapped */
  size_t length;
};

/* A mapped read copies at most this much (FileReads sends larger reads to the pool whole). */
#define MAPPED_MAX_PAGES 512

/*
 * A copy that touches a page past the end of a file that shrank underneath faults with SIGBUS.
 * The copy runs with copy_guard set on its thread; the handler jumps back out of it. SIGBUS
 * anywhere else goes to the handler that was there before (by default, the process dies).
 */
static __thread sigjmp_buf copy_jump;
static __thread volatile sig_atomic_t copy_guard = 0;
static struct sigaction previous_bus;
static bool bus_handler_installed = false;

static void on_sigbus(int sig, siginfo_t *info, void *context) {
  if (copy_guard) {
    copy_guard = 0;
    siglongjmp(copy_jump, 1);
  }
  if (previous_bus.sa_flags & SA_SIGINFO) {
    previous_bus.sa_sigaction(sig, info, context);
    return;
  }
  if (previous_bus.sa_handler != SIG_DFL && previous_bus.sa_handler != SIG_IGN) {
    previous_bus.sa_handler(sig);
    return;
  }
  /* Not ours: the default action, which the faulting instruction triggers again on return. */
  sigaction(SIGBUS, &previous_bus, NULL);
}

static bool install_bus_handler(void) {
  if (bus_handler_installed) return true;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigbus;
  /* SA_NODEFER: the jump out of the handler leaves SIGBUS unblocked for the next copy. */
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGBUS, &sa, &previous_bus) != 0) return false;
  bus_handler_installed = true;
  return true;
}

/* Returns 0, or -EFAULT when the copy hit a page past the end of the file. */
static int guarded_copy(uint8_t *dst, const uint8_t *src, size_t n) {
  if (sigsetjmp(copy_jump, 0) != 0) return -EFAULT;
  copy_guard = 1;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  memcpy(dst, src, n);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  copy_guard = 0;
  return 0;
}

static void unmap(struct mapping *m) {
  if (m->base != NULL) munmap(m->base, m->length);
  m->base = NULL;
}

static void finalize_mapping(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  unmap(data);
  free(data);
}

static struct mapping *mapping_arg(napi_env env, napi_value v) {
  void *data = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &data) != napi_ok) {
    return NULL;
  }
  return data;
}

static napi_value map_file(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  int32_t fd;
  int64_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &length) != napi_ok ||
      fd < 0 || length <= 0) {
    napi_throw_type_error(env, NULL, "expected (fd, length > 0)");
    return NULL;
  }
  if (!install_bus_handler()) {
    napi_create_int64(env, -(int64_t)errno, &result);
    return result;
  }
  void *base = mmap(NULL, (size_t)length, PROT_READ, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    napi_create_int64(env, -(int64_t)errno, &result);
    return result;
  }
  /* No readahead from a fault: reads that miss go to the pool, whose reads do the readahead. */
  madvise(base, (size_t)length, MADV_RANDOM);
  struct mapping *m = malloc(sizeof *m);
  if (m == NULL) {
    munmap(base, (size_t)length);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  m->base = base;
  m->length = (size_t)length;
  if (napi_create_external(env, m, finalize_mapping, NULL, &result) != napi_ok) {
    unmap(m);
    free(m);
    napi_throw_error(env, NULL, "cannot create the mapping's handle");
    return NULL;
  }
  return result;
}

static napi_value unmap_file(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct mapping *m;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      (m = mapping_arg(env, argv[0])) == NULL) {
    napi_throw_type_error(env, NULL, "expected (mapping)");
    return NULL;
  }
  unmap(m);
  return NULL;
}

static napi_value drop_mapped(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  struct mapping *m;
  int64_t offset, length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      (m = mapping_arg(env, argv[0])) == NULL || napi_get_value_int64(env, argv[1], &offset) != napi_ok ||
      napi_get_value_int64(env, argv[2], &length) != napi_ok || offset < 0 || length <= 0) {
    napi_throw_type_error(env, NULL, "expected (mapping, offset >= 0, length > 0)");
    return NULL;
  }
  size_t page = page_size();
  int r;
  if (m->base == NULL) {
    r = -EBADF;
  } else if ((uint64_t)offset >= m->length) {
    r = 0;
  } else {
    size_t from = (size_t)offset / page * page;
    size_t to = (size_t)offset + (size_t)length;
    if (to > m->length) to = m->length;
    r = madvise(m->base + from, to - from, MADV_DONTNEED) == 0 ? 0 : -errno;
  }
  napi_create_int32(env, r, &result);
  return result;
}

static napi_value read_mapped(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  struct mapping *m;
  void *data;
  size_t len;
  int64_t position;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      (m = mapping_arg(env, argv[0])) == NULL || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok ||
      napi_get_value_int64(env, argv[2], &position) != napi_ok || position < 0) {
    napi_throw_type_error(env, NULL, "expected (mapping, buffer, position >= 0)");
    return NULL;
  }
  size_t page = page_size();
  int64_t r;
  if (m->base == NULL) {
    r = -EBADF;
  } else if (len == 0) {
    r = 0;
  } else if ((uint64_t)position >= m->length || len > m->length - (size_t)position) {
    r = -ERANGE;
  } else {
    size_t first = (size_t)position / page, last = ((size_t)position + len - 1) / page;
    size_t pages = last - first + 1;
    unsigned char vec[MAPPED_MAX_PAGES];
    if (pages > MAPPED_MAX_PAGES) {
      r = -E2BIG;
    } else if (mincore(m->base + first * page, pages * page, vec) != 0) {
      r = -(int64_t)errno;
    } else {
      r = (int64_t)len;
      for (size_t i = 0; i < pages; i++) {
        if ((vec[i] & 1) == 0) {
          r = -EAGAIN;
          break;
        }
      }
      if (r > 0) {
        int e = guarded_copy(data, m->base + position, len);
        if (e != 0) r = e;
      }
    }
  }
  napi_create_int64(env, r, &result);
  return result;
}

/* ---- reader threads ---------------------------------------------------------------------- */

#define READERS 4
#define RING 4096 /* a power of two: requests submitted and not yet claimed by a reader */

struct read_req {
  struct read_req *next; /* on the completed list */
  int fd;
  uint8_t *data;
  size_t length;
  int64_t position;
  ssize_t result; /* bytes, or -errno */
  napi_deferred deferred;
  napi_ref buffer; /* keeps the destination alive while a reader writes into it */
};

struct readers {
  napi_env env;
  uv_async_t async;
  napi_async_context context;
  napi_ref resource;
  bool started;
  bool closing;
  /* The ring: the loop is its only producer, readers claim from head. */
  struct read_req *slots[RING];
  _Atomic uint64_t head;
  _Atomic uint64_t tail;
  /* The futex word readers sleep on, bumped on every submission, and how many sleep. */
  _Atomic uint32_t seq;
  _Atomic uint32_t sleepers;
  /* Completed requests, pushed by readers, taken all at once by the loop. */
  _Atomic(struct read_req *) done;
  /* Submitted and not yet completed on the loop (loop thread only). */
  uint64_t pending;
  /* Settled requests kept for reuse (loop thread only): no malloc, whose arena lock other
   * threads share, on the loop per read. */
  struct read_req *spare;
};

static long futex(_Atomic uint32_t *word, int op, uint32_t value) {
  return syscall(SYS_futex, (uint32_t *)word, op | FUTEX_PRIVATE_FLAG, value, NULL, NULL, 0);
}

/* A reader takes the next request, or NULL when the ring is empty. */
static struct read_req *claim(struct readers *r) {
  uint64_t h = atomic_load(&r->head);
  for (;;) {
    if (h >= atomic_load(&r->tail)) return NULL;
    /* Read the slot before claiming it: the loop reuses it only once head has passed it. */
    struct read_req *req = r->slots[h & (RING - 1)];
    if (atomic_compare_exchange_weak(&r->head, &h, h + 1)) return req;
  }
}

static void *reader_main(void *arg) {
  struct readers *r = arg;
  for (;;) {
    struct read_req *req = claim(r);
    if (req == NULL) {
      atomic_fetch_add(&r->sleepers, 1);
      uint32_t seen = atomic_load(&r->seq);
      if (atomic_load(&r->head) >= atomic_load(&r->tail)) futex(&r->seq, FUTEX_WAIT, seen);
      atomic_fetch_sub(&r->sleepers, 1);
      continue;
    }
    ssize_t n;
    do {
      n = pread(req->fd, req->data, req->length, (off_t)req->position);
    } while (n < 0 && errno == EINTR);
    req->result = n < 0 ? -(ssize_t)errno : n;
    struct read_req *top = atomic_load(&r->done);
    do {
      req->next = top;
    } while (!atomic_compare_exchange_weak(&r->done, &top, req));
    uv_async_send(&r->async);
  }
  return NULL;
}

static void settle_reads(uv_async_t *handle) {
  struct readers *r = handle->data;
  struct read_req *list = atomic_exchange(&r->done, NULL);
  if (list == NULL) return;
  /* The list is newest first: settle in completion order. */
  struct read_req *ordered = NULL;
  while (list != NULL) {
    struct read_req *next = list->next;
    list->next = ordered;
    ordered = list;
    list = next;
  }
  napi_env env = r->env;
  napi_handle_scope hs;
  napi_callback_scope cs;
  napi_value resource;
  napi_open_handle_scope(env, &hs);
  napi_get_reference_value(env, r->resource, &resource);
  /* A callback scope: the promises' reactions run when it closes, as after any I/O callback. */
  napi_open_callback_scope(env, resource, r->context, &cs);
  while (ordered != NULL) {
    struct read_req *req = ordered;
    ordered = req->next;
    if (req->result >= 0) {
      napi_value n;
      napi_create_int64(env, (int64_t)req->result, &n);
      napi_resolve_deferred(env, req->deferred, n);
    } else {
      reject_errno(env, req->deferred, "pread", (int)-req->result);
    }
    napi_delete_reference(env, req->buffer);
    req->next = r->spare;
    r->spare = req;
    r->pending--;
  }
  if (r->pending == 0) uv_unref((uv_handle_t *)&r->async);
  napi_close_callback_scope(env, cs);
  napi_close_handle_scope(env, hs);
}

static void close_readers(void *arg) {
  struct readers *r = arg;
  /* The environment is going away: let the reads in flight land first, then stop the handle. */
  r->closing = true;
  if (!r->started) return;
  while (r->pending > 0) {
    usleep(1000);
    settle_reads(&r->async);
  }
  uv_close((uv_handle_t *)&r->async, NULL);
}

static struct readers *readers_of(napi_env env) {
  struct readers *r = NULL;
  if (napi_get_instance_data(env, (void **)&r) == napi_ok && r != NULL) return r;
  return NULL;
}

static bool start_readers(napi_env env, struct readers *r) {
  if (r->started) return true;
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_async_init(loop, &r->async, settle_reads) != 0) {
    return false;
  }
  r->async.data = r;
  uv_unref((uv_handle_t *)&r->async);
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &r->resource);
  napi_create_string_utf8(env, "tandem:readPooled", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &r->context);
  for (int i = 0; i < READERS; i++) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    int e = pthread_create(&t, &attr, reader_main, r);
    pthread_attr_destroy(&attr);
    if (e != 0 && i == 0) return false;
  }
  r->started = true;
  return true;
}

static napi_value read_pooled(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  int32_t fd;
  void *data;
  size_t len;
  int64_t position;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok ||
      napi_get_value_int64(env, argv[2], &position) != napi_ok || fd < 0 || position < 0 || len == 0) {
    napi_throw_type_error(env, NULL, "expected (fd, buffer of length > 0, position >= 0)");
    return NULL;
  }
  struct readers *r = readers_of(env);
  uint64_t t = r == NULL ? 0 : atomic_load(&r->tail);
  if (r == NULL || r->closing || !start_readers(env, r) || t - atomic_load(&r->head) >= RING) {
    /* No readers, or the ring is full: the caller reads through libuv's pool. */
    napi_create_int64(env, -EAGAIN, &result);
    return result;
  }
  struct read_req *req = r->spare;
  if (req != NULL) {
    r->spare = req->next;
  } else if ((req = malloc(sizeof *req)) == NULL) {
    napi_create_int64(env, -ENOMEM, &result);
    return result;
  }
  memset(req, 0, sizeof *req);
  req->fd = fd;
  req->data = data;
  req->length = len;
  req->position = position;
  napi_create_reference(env, argv[1], 1, &req->buffer);
  napi_create_promise(env, &req->deferred, &result);
  if (r->pending++ == 0) uv_ref((uv_handle_t *)&r->async);
  r->slots[t & (RING - 1)] = req;
  atomic_store(&r->tail, t + 1);
  atomic_fetch_add(&r->seq, 1);
  if (atomic_load(&r->sleepers) > 0) futex(&r->seq, FUTEX_WAKE, 1);
  return result;
}

static void free_readers(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  /* Reader threads may still sleep on it: the memory stays (one per environment). */
  (void)data;
}

static napi_value init(napi_env env, napi_value exports) {
  struct readers *readers = calloc(1, sizeof *readers);
  if (readers != NULL) {
    readers->env = env;
    napi_set_instance_data(env, readers, free_readers, NULL);
    napi_add_env_cleanup_hook(env, close_readers, readers);
  }
  napi_property_descriptor props[] = {
      {"readPooled", NULL, read_pooled, NULL, NULL, NULL, napi_default, NULL},
      {"mapFile", NULL, map_file, NULL, NULL, NULL, napi_default, NULL},
      {"unmapFile", NULL, unmap_file, NULL, NULL, NULL, napi_default, NULL},
      {"readMapped", NULL, read_mapped, NULL, NULL, NULL, napi_default, NULL},
      {"dropMapped", NULL, drop_mapped, NULL, NULL, NULL, napi_default, NULL},
      {"readNoWait", NULL, read_no_wait, NULL, NULL, NULL, napi_default, NULL},
      {"isCached", NULL, is_cached, NULL, NULL, NULL, napi_default, NULL},
      {"punchHole", NULL, punch_hole, NULL, NULL, NULL, napi_default, NULL},
      {"extent", NULL, extent, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
