/* System tuning the host applies at start, where Swift has no access (glibc's malloc.h). */
#ifndef MONA_SYSTEM_H
#define MONA_SYSTEM_H

/** Keeps large, short-lived allocations (media frames, socket buffers) in the heap instead of
 *  mmap/munmap each, and stops returning the heap's top to the system at every free. */
void mona_system_tune_allocator(void);

#endif
