#define _GNU_SOURCE
#include "mona_system.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

void mona_system_tune_allocator(void) {
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    /* One arena: the loop thread makes nearly every allocation, and only the main arena's top can be
     * given back by malloc_trim (another thread's arena keeps its top until it passes the trim threshold). */
    mallopt(M_ARENA_MAX, 1);
}

size_t mona_system_free_heap_bytes(void) {
    struct mallinfo2 info = mallinfo2();
    return info.fordblks;
}

int mona_system_release_free_heap(void) {
    return malloc_trim(0);
}

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

long mona_system_udp_send_segments(int fd, const void *to, unsigned to_size, const void *data, size_t size,
                                   unsigned short segment) {
    char control[CMSG_SPACE(sizeof(uint16_t))];
    memset(control, 0, sizeof control);
    struct iovec iov = {.iov_base = (void *)data, .iov_len = size};
    struct msghdr message = {.msg_name = (void *)to, .msg_namelen = to_size, .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_UDP;
    header->cmsg_type = UDP_SEGMENT;
    header->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t value = segment;
    memcpy(CMSG_DATA(header), &value, sizeof value);
    ssize_t sent;
    do {
        sent = sendmsg(fd, &message, MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    return sent < 0 ? -(long)errno : (long)sent;
}

/* From this size a file-backed block asks for 2 MiB pages: its file and mapping are rounded up to a
 * multiple of them (the tail is never touched, so it costs nothing where huge pages are off). */
#define MONA_HUGE_PAGE ((size_t)2 << 20)
#define MONA_HUGE_MINIMUM ((size_t)1 << 20)

static size_t file_memory_length(size_t size) {
    if (size < MONA_HUGE_MINIMUM || size > SIZE_MAX - MONA_HUGE_PAGE) return size;
    return (size + MONA_HUGE_PAGE - 1) & ~(MONA_HUGE_PAGE - 1);
}

/* Maps `length` bytes of `file`; when `aligned`, at an address that is a multiple of 2 MiB (a huge
 * page can only map an aligned range): a larger anonymous reservation is cut down around it. */
static void *map_file(int file, size_t length, int aligned) {
    if (!aligned) return mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
    size_t span = length + MONA_HUGE_PAGE;
    char *reserve = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (reserve == MAP_FAILED) return MAP_FAILED;
    char *start = (char *)(((uintptr_t)reserve + MONA_HUGE_PAGE - 1) & ~(uintptr_t)(MONA_HUGE_PAGE - 1));
    void *memory = mmap(start, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, file, 0);
    if (memory == MAP_FAILED) {
        munmap(reserve, span);
        return MAP_FAILED;
    }
    if (start > reserve) munmap(reserve, (size_t)(start - reserve));
    if (reserve + span > start + length) munmap(start + length, (size_t)(reserve + span - (start + length)));
    return memory;
}

void *mona_system_file_memory(size_t size, int *fd) {
    *fd = -1;
    size_t length = file_memory_length(size);
    int file = memfd_create("mona-shared", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (file < 0) return NULL;
    if (ftruncate(file, (off_t)length) != 0) {
        close(file);
        return NULL;
    }
    (void)fcntl(file, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    void *memory = map_file(file, length, length != size);
    if (memory == MAP_FAILED) {
        close(file);
        return NULL;
    }
    /* Honoured where shmem_enabled is "advise" (or "within_size"/"always"): the pages a socket's
     * sendfile looks up one by one are 2 MiB folios from the start. Elsewhere a no-op (see
     * mona_system_collapse_file_memory). */
    if (length != size) (void)madvise(memory, length, MADV_HUGEPAGE);
    *fd = file;
    return memory;
}

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 /* Linux 6.1 */
#endif

int mona_system_collapse_file_memory(void *memory, size_t size) {
    size_t length = file_memory_length(size);
    if (!memory || length == size) return 0;
    return madvise(memory, length, MADV_COLLAPSE) == 0 ? 0 : -errno;
}

void mona_system_free_file_memory(void *memory, size_t size, int fd) {
    if (memory) munmap(memory, file_memory_length(size));
    if (fd >= 0) close(fd);
}

long mona_system_sendfile(int out_fd, int in_fd, size_t offset, size_t count) {
    off_t position = (off_t)offset;
    ssize_t sent;
    do {
        sent = sendfile(out_fd, in_fd, &position, count);
    } while (sent < 0 && errno == EINTR);
    return sent < 0 ? -(long)errno : (long)sent;
}
