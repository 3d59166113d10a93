#ifndef IMG_CHOST_H
#define IMG_CHOST_H
/* Linux-only calls that Glibc's Swift overlay does not export without _GNU_SOURCE. */
#include <stdint.h>

int img_fallocate(int fd, int mode, int64_t offset, int64_t length);
/* OFD byte-range lock on one byte: type is 0 read, 1 write, 2 unlock. Returns 0 or -errno. */
int img_ofd_setlk(int fd, int64_t start, int type);
/* Tests whether another open file description holds a conflicting lock on one byte
   (as if we asked for `type`). Returns 1 conflict, 0 none, -errno on failure. */
int img_ofd_testlk(int fd, int64_t start, int type);
/* Guards a read-only file mapping against SIGBUS (see mapguard.c). add returns a slot or -1
   when all are taken; fault gives the lowest offset that could not be read, or -1. */
#include <stddef.h>
int img_map_guard_add(const void *start, size_t length);
int64_t img_map_guard_fault(int slot);
void img_map_guard_remove(int slot);
#endif
