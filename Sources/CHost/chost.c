#define _GNU_SOURCE
#include <fcntl.h>
#include <errno.h>
#include <string.h>
#include "chost.h"

int img_fallocate(int fd, int mode, int64_t offset, int64_t length) {
    return fallocate(fd, mode, (off_t)offset, (off_t)length);
}

/* A one-byte lock request at `start`: type 0 read, 1 write, 2 unlock. */
static struct flock one_byte(int64_t start, int type) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = 1;
    fl.l_type = type == 0 ? F_RDLCK : type == 1 ? F_WRLCK : F_UNLCK;
    return fl;
}

int img_ofd_setlk(int fd, int64_t start, int type) {
    struct flock fl = one_byte(start, type);
    return fcntl(fd, F_OFD_SETLK, &fl) == -1 ? -errno : 0;
}

int img_ofd_testlk(int fd, int64_t start, int type) {
    struct flock fl = one_byte(start, type);
    if (fcntl(fd, F_OFD_GETLK, &fl) == -1) return -errno;
    return fl.l_type != F_UNLCK;
}
