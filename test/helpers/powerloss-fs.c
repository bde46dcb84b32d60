/*
 * powerloss-fs: a FUSE file system that models a disk's volatile write cache, for tests of what
 * survives a power cut. Built and mounted by test/helpers/powerloss.ts.
 *
 *   powerloss-fs BACKING_DIR MOUNTPOINT [fuse options]
 *
 * Every file of MOUNTPOINT is the file of the same name in BACKING_DIR (the "platter"). Written
 * data stays in this process's memory, in 4 KiB pages, until the file is fsync'ed/fdatasync'ed
 * (then it is written to the platter and the platter fsync'ed): reads see it, a power cut loses
 * it. Metadata (create, mkdir, rename, unlink, truncate, a write's extension of the size) goes to
 * the platter at once, like a journaling file system's; data beyond it is lost at a cut as on a
 * real disk (an extended file reads zeroes there). Files are opened direct_io, so the kernel's
 * own page cache never holds pages this process dropped.
 *
 * Control file MOUNTPOINT/.powerfs (not on the platter):
 *   write "cut"                 drop every unflushed page: the power cut
 *   write "cut-random SEED PCT" drop each unflushed page with probability PCT/100 and write the
 *                               rest to the platter (a disk that reorders its cache)
 *   read                        "dirty_pages N\nfsyncs N\ncuts N\ndropped_pages N\n"
 * Single-threaded (-s is forced): operations never run concurrently.
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define PAGE 4096
#define CONTROL "/.powerfs"

struct page {
  ino_t ino;
  int64_t index;
  struct page *next; /* hash chain */
  uint8_t data[PAGE];
};

#define BUCKETS 65536
static struct page *table[BUCKETS];
static int backing; /* fd of BACKING_DIR */
static long dirty_pages, fsyncs, cuts, dropped_pages;

static unsigned bucket(ino_t ino, int64_t index) {
  uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)index * 0xC2B2AE3D27D4EB4Full;
  return (unsigned)(h >> 48) & (BUCKETS - 1);
}

static struct page *find(ino_t ino, int64_t index) {
  for (struct page *p = table[bucket(ino, index)]; p; p = p->next)
    if (p->ino == ino && p->index == index) return p;
  return NULL;
}

/* Relative path on the platter: "/a/b" -> "a/b", "/" -> ".". */
static const char *rel(const char *path) { return path[1] ? path + 1 : "."; }

static ino_t ino_of(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

/* Applies `fn` to every dirty page of `ino` (ino 0: of every file); a page it returns 1 for is freed. */
typedef int (*page_fn)(struct page *p, void *arg);
static void sweep(ino_t ino, page_fn fn, void *arg) {
  for (unsigned b = 0; b < BUCKETS; b++) {
    struct page **pp = &table[b];
    while (*pp) {
      struct page *p = *pp;
      if ((ino == 0 || p->ino == ino) && fn(p, arg)) {
        *pp = p->next;
        free(p);
        dirty_pages--;
      } else {
        pp = &p->next;
      }
    }
  }
}

static int write_back(struct page *p, void *arg) {
  int fd = *(int *)arg;
  struct stat st;
  if (fstat(fd, &st) != 0) return 0;
  off_t at = (off_t)p->index * PAGE;
  if (at >= st.st_size) return 1; /* truncated away meanwhile */
  size_t n = (size_t)(st.st_size - at < PAGE ? st.st_size - at : PAGE);
  return pwrite(fd, p->data, n, at) == (ssize_t)n;
}

static int drop_all(struct page *p, void *arg) {
  (void)p;
  (void)arg;
  dropped_pages++;
  return 1;
}

/* Dirty pages of data that is gone anyway (unlinked, truncated): not a power-cut loss. */
static int discard(struct page *p, void *arg) {
  (void)p;
  (void)arg;
  return 1;
}

/* cut-random: drop with probability pct, else write to the platter (through a fresh fd by ino). */
struct random_cut {
  unsigned seed;
  int pct;
};
static int write_back_by_ino(struct page *p);
static int drop_some(struct page *p, void *arg) {
  struct random_cut *rc = arg;
  if ((int)(rand_r(&rc->seed) % 100) < rc->pct) {
    dropped_pages++;
    return 1;
  }
  return write_back_by_ino(p);
}

/* The platter's path of an inode: found by walking BACKING_DIR (tests hold few files). */
static int open_by_ino(int dirfd, ino_t ino, int depth) {
  if (depth > 8) return -1;
  int dup = openat(dirfd, ".", O_RDONLY | O_DIRECTORY);
  if (dup < 0) return -1;
  DIR *d = fdopendir(dup);
  if (!d) {
    close(dup);
    return -1;
  }
  struct dirent *e;
  int found = -1;
  while (found < 0 && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    struct stat st;
    if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode) && st.st_ino == ino) {
      found = openat(dirfd, e->d_name, O_WRONLY);
    } else if (S_ISDIR(st.st_mode)) {
      int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY);
      if (sub >= 0) {
        found = open_by_ino(sub, ino, depth + 1);
        close(sub);
      }
    }
  }
  closedir(d);
  return found;
}

static int write_back_by_ino(struct page *p) {
  int fd = open_by_ino(backing, p->ino, 0);
  if (fd < 0) return 1; /* unlinked: nothing to write */
  int ok = write_back(p, &fd);
  fsync(fd);
  close(fd);
  return ok;
}

static int control(const char *cmd) {
  if (strncmp(cmd, "cut-random", 10) == 0) {
    struct random_cut rc = {1, 50};
    sscanf(cmd + 10, "%u %d", &rc.seed, &rc.pct);
    sweep(0, drop_some, &rc);
  } else if (strncmp(cmd, "cut", 3) == 0) {
    sweep(0, drop_all, NULL);
  } else {
    return -EINVAL;
  }
  cuts++;
  return 0;
}

static int control_text(char *buf, size_t size) {
  return snprintf(buf, size, "dirty_pages %ld\nfsyncs %ld\ncuts %ld\ndropped_pages %ld\n", dirty_pages, fsyncs, cuts,
                  dropped_pages);
}

static void *pl_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  (void)conn;
  cfg->direct_io = 1;
  cfg->use_ino = 1;
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  return NULL;
}

static int pl_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  (void)fi;
  if (strcmp(path, CONTROL) == 0) {
    memset(st, 0, sizeof *st);
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    st->st_size = 256;
    return 0;
  }
  return fstatat(backing, rel(path), st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

static int pl_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags) {
  (void)off;
  (void)fi;
  (void)flags;
  int fd = openat(backing, rel(path), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -errno;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -errno;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) fill(buf, e->d_name, NULL, 0, 0);
  closedir(d);
  return 0;
}

static int pl_open(const char *path, struct fuse_file_info *fi) {
  if (strcmp(path, CONTROL) == 0) {
    fi->fh = (uint64_t)-1;
    fi->direct_io = 1;
    return 0;
  }
  int flags = fi->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_DIRECT);
  if ((flags & O_ACCMODE) == O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR; /* partial pages are read */
  int fd = openat(backing, rel(path), flags);
  if (fd < 0) return -errno;
  if (fi->flags & O_TRUNC) {
    sweep(ino_of(fd), discard, NULL);
    if (ftruncate(fd, 0) != 0) {
      int e = errno;
      close(fd);
      return -e;
    }
  }
  fi->fh = (uint64_t)fd;
  fi->direct_io = 1;
  return 0;
}

static int pl_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
  int fd = openat(backing, rel(path), O_RDWR | O_CREAT | (fi->flags & O_EXCL) | (fi->flags & O_TRUNC), mode);
  if (fd < 0) return -errno;
  fi->fh = (uint64_t)fd;
  fi->direct_io = 1;
  return 0;
}

static int pl_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  if (strcmp(path, CONTROL) == 0) {
    char text[256];
    int n = control_text(text, sizeof text);
    if (off >= n) return 0;
    size_t len = (size_t)(n - off) < size ? (size_t)(n - off) : size;
    memcpy(buf, text + off, len);
    return (int)len;
  }
  int fd = (int)fi->fh;
  struct stat st;
  if (fstat(fd, &st) != 0) return -errno;
  if (off >= st.st_size) return 0;
  if ((off_t)size > st.st_size - off) size = (size_t)(st.st_size - off);
  ssize_t n = pread(fd, buf, size, off);
  if (n < 0) return -errno;
  if ((size_t)n < size) memset(buf + n, 0, size - (size_t)n); /* the platter holds a hole there */
  for (int64_t i = off / PAGE; i * PAGE < off + (off_t)size; i++) {
    struct page *p = find(st.st_ino, i);
    if (!p) continue;
    off_t from = i * PAGE > off ? i * PAGE : off;
    off_t to = (i + 1) * PAGE < off + (off_t)size ? (i + 1) * PAGE : off + (off_t)size;
    memcpy(buf + (from - off), p->data + (from - i * PAGE), (size_t)(to - from));
  }
  return (int)size;
}

static int pl_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  if (strcmp(path, CONTROL) == 0) {
    char cmd[128];
    size_t n = size < sizeof cmd - 1 ? size : sizeof cmd - 1;
    memcpy(cmd, buf, n);
    cmd[n] = 0;
    int r = control(cmd);
    return r < 0 ? r : (int)size;
  }
  int fd = (int)fi->fh;
  struct stat st;
  if (fstat(fd, &st) != 0) return -errno;
  for (int64_t i = off / PAGE; i * PAGE < off + (off_t)size; i++) {
    struct page *p = find(st.st_ino, i);
    if (!p) {
      p = calloc(1, sizeof *p);
      if (!p) return -ENOMEM;
      p->ino = st.st_ino;
      p->index = i;
      if (i * PAGE < st.st_size && pread(fd, p->data, PAGE, i * PAGE) < 0) {
        free(p);
        return -errno;
      }
      unsigned b = bucket(p->ino, i);
      p->next = table[b];
      table[b] = p;
      dirty_pages++;
    }
    off_t from = i * PAGE > off ? i * PAGE : off;
    off_t to = (i + 1) * PAGE < off + (off_t)size ? (i + 1) * PAGE : off + (off_t)size;
    memcpy(p->data + (from - i * PAGE), buf + (from - off), (size_t)(to - from));
  }
  if (off + (off_t)size > st.st_size && ftruncate(fd, off + (off_t)size) != 0) return -errno;
  return (int)size;
}

static int pl_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)datasync;
  if (strcmp(path, CONTROL) == 0) return 0;
  int fd = (int)fi->fh;
  sweep(ino_of(fd), write_back, &fd);
  fsyncs++;
  return fsync(fd) == 0 ? 0 : -errno;
}

/* Drops dirty pages at and beyond `size` (the part of the last page past it is zeroed). */
struct cut_at {
  off_t size;
};
static int beyond(struct page *p, void *arg) {
  off_t size = ((struct cut_at *)arg)->size;
  if ((off_t)p->index * PAGE >= size) return 1;
  if ((off_t)(p->index + 1) * PAGE > size) memset(p->data + (size - p->index * PAGE), 0, (size_t)((p->index + 1) * PAGE - size));
  return 0;
}

static int pl_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  int fd = fi ? (int)fi->fh : openat(backing, rel(path), O_RDWR);
  if (fd < 0) return -errno;
  struct cut_at c = {size};
  sweep(ino_of(fd), beyond, &c);
  int r = ftruncate(fd, size) == 0 ? 0 : -errno;
  if (!fi) close(fd);
  return r;
}

static int pl_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi) {
  (void)path;
  int fd = (int)fi->fh;
  /* Punching a hole writes the platter at once; drop the dirty pages wholly inside the range
   * and zero the covered part of the others. */
  if (fallocate(fd, mode, off, len) != 0) return -errno;
  ino_t ino = ino_of(fd);
  for (int64_t i = off / PAGE; i * PAGE < off + len; i++) {
    struct page *p = find(ino, i);
    if (!p) continue;
    off_t from = i * PAGE > off ? i * PAGE : off;
    off_t to = (i + 1) * PAGE < off + len ? (i + 1) * PAGE : off + len;
    memset(p->data + (from - i * PAGE), 0, (size_t)(to - from));
  }
  return 0;
}

static int pl_release(const char *path, struct fuse_file_info *fi) {
  if (strcmp(path, CONTROL) != 0) close((int)fi->fh);
  return 0;
}

static int pl_unlink(const char *path) {
  struct stat st;
  if (fstatat(backing, rel(path), &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_nlink == 1) {
    /* Dirty pages of a file that is gone: drop them (an fd still open would keep it; tests don't). */
    sweep(st.st_ino, discard, NULL);
  }
  return unlinkat(backing, rel(path), 0) == 0 ? 0 : -errno;
}

static int pl_mkdir(const char *path, mode_t mode) { return mkdirat(backing, rel(path), mode) == 0 ? 0 : -errno; }
static int pl_rmdir(const char *path) { return unlinkat(backing, rel(path), AT_REMOVEDIR) == 0 ? 0 : -errno; }
static int pl_rename(const char *from, const char *to, unsigned int flags) {
  if (flags) return -EINVAL;
  return renameat(backing, rel(from), backing, rel(to)) == 0 ? 0 : -errno;
}
static int pl_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
  (void)fi;
  return fchmodat(backing, rel(path), mode, 0) == 0 ? 0 : -errno;
}
static int pl_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
  (void)fi;
  return utimensat(backing, rel(path), tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}
static int pl_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)path;
  (void)datasync;
  (void)fi;
  return 0; /* metadata is on the platter already */
}
static int pl_statfs(const char *path, struct statvfs *st) {
  (void)path;
  return fstatvfs(backing, st) == 0 ? 0 : -errno;
}

static const struct fuse_operations ops = {
    .init = pl_init,
    .getattr = pl_getattr,
    .readdir = pl_readdir,
    .open = pl_open,
    .create = pl_create,
    .read = pl_read,
    .write = pl_write,
    .fsync = pl_fsync,
    .truncate = pl_truncate,
    .fallocate = pl_fallocate,
    .release = pl_release,
    .unlink = pl_unlink,
    .mkdir = pl_mkdir,
    .rmdir = pl_rmdir,
    .rename = pl_rename,
    .chmod = pl_chmod,
    .utimens = pl_utimens,
    .fsyncdir = pl_fsyncdir,
    .statfs = pl_statfs,
};

int main(int argc, char *argv[]) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s BACKING_DIR MOUNTPOINT [fuse options]\n", argv[0]);
    return 2;
  }
  backing = open(argv[1], O_RDONLY | O_DIRECTORY);
  if (backing < 0) {
    perror(argv[1]);
    return 2;
  }
  /* fuse_main sees: prog MOUNTPOINT -s [options]. */
  char **fargv = calloc((size_t)argc + 2, sizeof *fargv);
  int fargc = 0;
  fargv[fargc++] = argv[0];
  fargv[fargc++] = argv[2];
  fargv[fargc++] = "-s";
  for (int i = 3; i < argc; i++) fargv[fargc++] = argv[i];
  return fuse_main(fargc, fargv, &ops, NULL);
}
