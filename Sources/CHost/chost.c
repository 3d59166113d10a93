#define _GNU_SOURCE
#include <fcntl.h>
#include <errno.h>
#include <string.h>
#include "chost.h"

int img_fallocate(int fd, int mode, int64_t offset, int64_t length) {
    return fallocate(fd, mode, (off_t)offset, (off_t)length);
}

static short lock_type(int type) {
    return type == 0 ? F_RDLCK : type == 1 ? F_WRLCK : F_UNLCK;
}

int img_ofd_setlk(int fd, int64_t start, int type) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = 1;
    fl.l_type = lock_type(type);
    return fcntl(fd, F_OFD_SETLK, &fl) == -1 ? -errno : 0;
}

int img_ofd_testlk(int fd, int64_t start, int type) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = 1;
    fl.l_type = lock_type(type);
    if (fcntl(fd, F_OFD_GETLK, &fl) == -1) return -errno;
    return fl.l_type != F_UNLCK;
}
