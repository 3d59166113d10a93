#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>
#include <pthread.h>
#include "chost.h"

/* Read-only file mappings registered here do not kill the process when a page cannot be
   read (the file shrank under us, or the device failed): the handler puts a page of zeros
   in place of the missing one and records the lowest failing offset, which the owner turns
   into an ordinary I/O error. Faults elsewhere behave as before. */

#define SLOTS 16
static struct {
    _Atomic uintptr_t start, end;
    _Atomic int64_t fault; /* lowest failing offset from start, -1 for none */
} guards[SLOTS];
static struct sigaction previous;
static pthread_once_t installed = PTHREAD_ONCE_INIT;
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_bus_error(int sig, siginfo_t *info, void *context) {
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < SLOTS; i++) {
        uintptr_t start = atomic_load(&guards[i].start), end = atomic_load(&guards[i].end);
        if (address < start || address >= end) continue;
        uintptr_t page = address & ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
        if (mmap((void *)page, (size_t)sysconf(_SC_PAGESIZE), PROT_READ,
                 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED) break;
        int64_t offset = (int64_t)(page - start), seen = atomic_load(&guards[i].fault);
        while ((seen < 0 || offset < seen) &&
               !atomic_compare_exchange_weak(&guards[i].fault, &seen, offset)) {}
        return;
    }
    /* Not ours: hand it on, or die of it as without the handler. */
    if (previous.sa_flags & SA_SIGINFO && previous.sa_sigaction) { previous.sa_sigaction(sig, info, context); return; }
    if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN && previous.sa_handler) { previous.sa_handler(sig); return; }
    signal(SIGBUS, SIG_DFL);
}

static void install(void) {
    for (int i = 0; i < SLOTS; i++) atomic_store(&guards[i].fault, -1);
    struct sigaction action = {0};
    action.sa_sigaction = on_bus_error;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, &previous);
}

int img_map_guard_add(const void *start, size_t length) {
    pthread_once(&installed, install);
    pthread_mutex_lock(&slot_lock);
    int found = -1;
    for (int i = 0; i < SLOTS && found < 0; i++) {
        if (atomic_load(&guards[i].end) != 0) continue;
        atomic_store(&guards[i].fault, -1);
        atomic_store(&guards[i].start, (uintptr_t)start);
        atomic_store(&guards[i].end, (uintptr_t)start + length);
        found = i;
    }
    pthread_mutex_unlock(&slot_lock);
    return found;
}

int64_t img_map_guard_fault(int slot) {
    return slot >= 0 && slot < SLOTS ? atomic_load(&guards[slot].fault) : -1;
}

void img_map_guard_remove(int slot) {
    if (slot < 0 || slot >= SLOTS) return;
    pthread_mutex_lock(&slot_lock);
    atomic_store(&guards[slot].end, 0);
    atomic_store(&guards[slot].start, 0);
    pthread_mutex_unlock(&slot_lock);
}
