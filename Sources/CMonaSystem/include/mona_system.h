/* System calls and tuning the host needs where Swift has no access (glibc's malloc.h, control
 * messages, memfd_create, sendfile). */
#ifndef MONA_SYSTEM_H
#define MONA_SYSTEM_H

#include <stddef.h>

/** Keeps large, short-lived allocations (media frames, socket buffers) in the heap instead of
 *  mmap/munmap each, stops returning the heap's top to the system at every free, and keeps one arena
 *  (so that mona_system_release_free_heap can give back all of it, the top included). */
void mona_system_tune_allocator(void);

/** Bytes free inside malloc's arenas (allocated from the system, not in use): what a trim could give back. */
size_t mona_system_free_heap_bytes(void);

/** Gives the free pages of every arena back to the system (malloc_trim(0)); 1 if memory was released. */
int mona_system_release_free_heap(void);

/** Sends the datagrams held back to back in data (size bytes; each segment bytes but the last) to
 *  `to` in one sendmsg with a UDP_SEGMENT control message (Linux generic segmentation offload), not
 *  blocking. Returns the bytes sent (all of them), or -errno: EAGAIN when the socket is full, EIO,
 *  EINVAL, ENOPROTOOPT or EOPNOTSUPP when the system or the route cannot segment. */
long mona_system_udp_send_segments(int fd, const void *to, unsigned to_size, const void *data, size_t size,
                                   unsigned short segment);

/** Memory backed by an anonymous in-memory file (memfd_create, sealed to its size): `size` bytes mapped
 *  readable and writable, its descriptor in *fd (close-on-exec). NULL (and *fd -1) when the system
 *  refuses (no memfd, descriptors or memory short): the caller then uses the heap. From 1 MiB the
 *  file asks for transparent huge pages (MADV_HUGEPAGE, granted where the kernel's shmem_enabled is
 *  "advise"), and is mapped at a 2 MiB boundary, which makes sendfile from it cheaper. */
void *mona_system_file_memory(size_t size, int *fd);

/** Moves the pages of a block of mona_system_file_memory of `size` bytes from 1 MiB (filled, and no
 *  longer written) into 2 MiB pages, whatever the kernel's shmem_enabled (MADV_COLLAPSE, Linux 6.1;
 *  it copies the block once, ~0.5 ms for 2 MiB, more when the kernel must compact memory). Before a
 *  socket holds its pages by reference (sendfile): such pages cannot be moved (EAGAIN).
 *  0 when done or nothing to do (a smaller block); -errno otherwise (EINVAL before Linux 6.1, EAGAIN
 *  or ENOMEM when no huge page could be had: the block then stays in small pages, as good as before). */
int mona_system_collapse_file_memory(void *memory, size_t size);

/** Unmaps memory of mona_system_file_memory and closes its descriptor (pages a socket still sends
 *  stay alive in the kernel until sent). */
void mona_system_free_file_memory(void *memory, size_t size, int fd);

/** sendfile(2) of [offset, offset + count) of `in_fd` to the non-blocking socket `out_fd`, retried on
 *  EINTR: the bytes the socket took (> 0), 0 when the file ends first, or -errno (EAGAIN when the
 *  socket is full; EINVAL or ENOSYS when this pair of descriptors cannot be used). */
long mona_system_sendfile(int out_fd, int in_fd, size_t offset, size_t count);

#endif
