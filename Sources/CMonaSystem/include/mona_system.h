/* System tuning the host applies, where Swift has no access (glibc's malloc.h). */
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

#endif
