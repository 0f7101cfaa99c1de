#include "mona_system.h"

#include <malloc.h>

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
