/* Read-only file mappings and small-file reads (see mapfile.h). */
#define _DEFAULT_SOURCE /* madvise(MADV_DONTNEED): glibc ignores posix_madvise's DONTNEED */
#include "formats/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int fmt_map_open(fmt_map *m, const char *path, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            snprintf(err, errlen, "%s: cannot map %lld bytes: %s", path, (long long)st.st_size, strerror(errno));
            close(fd);
            return -1;
        }
        m->base = p;
        m->size = (uint64_t)st.st_size;
    }
    close(fd); /* the mapping keeps the file alive */
    return 0;
}

void fmt_map_close(fmt_map *m) {
    if (m->base) munmap((void *)m->base, (size_t)m->size);
    memset(m, 0, sizeof *m);
}

void fmt_map_release(const void *p, uint64_t n) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + page - 1) / page * page;
    uintptr_t hi = ((uintptr_t)p + (uintptr_t)n) / page * page;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* ---- SIGBUS guard ---- */

static _Thread_local sigjmp_buf *guard_jmp; /* set while this thread runs a guarded read */
static struct sigaction old_bus;            /* the handler before ours (ASan's, or the default) */
static pthread_once_t bus_once = PTHREAD_ONCE_INIT;

static void on_sigbus(int sig, siginfo_t *info, void *uctx) {
    if (guard_jmp) siglongjmp(*guard_jmp, 1);
    /* not ours: hand it on, or let the default action end the process */
    if ((old_bus.sa_flags & SA_SIGINFO) && old_bus.sa_sigaction) {
        old_bus.sa_sigaction(sig, info, uctx);
    } else if (old_bus.sa_handler != SIG_DFL && old_bus.sa_handler != SIG_IGN) {
        old_bus.sa_handler(sig);
    } else {
        signal(SIGBUS, SIG_DFL); /* the faulting access runs again and ends the process */
    }
}

static void install_sigbus(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old_bus);
}

int fmt_map_guard(void (*fn)(void *arg), void *arg) {
    pthread_once(&bus_once, install_sigbus);
    sigjmp_buf jb;
    sigjmp_buf *volatile outer = guard_jmp;
    if (sigsetjmp(jb, 1)) {
        guard_jmp = outer;
        return -1;
    }
    guard_jmp = &jb;
    fn(arg);
    guard_jmp = outer;
    return 0;
}

char *fmt_read_file(const char *path, size_t max_bytes, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        fclose(f);
        return NULL;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        snprintf(err, errlen, "%s: %lld bytes, more than the %zu allowed", path, (long long)st.st_size, max_bytes);
        fclose(f);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory for %zu bytes", path, n);
        fclose(f);
        return NULL;
    }
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    if (got != n) {
        snprintf(err, errlen, "%s: short read (%zu of %zu bytes)", path, got, n);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int fmt_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int fmt_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int fmt_file_error(char *err, size_t errlen, const char *file, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (err && errlen) snprintf(err, errlen, "%s: %s", file, msg);
    return -1;
}
