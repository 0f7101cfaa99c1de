#include "mona_system.h"

#include <malloc.h>

void mona_system_tune_allocator(void) {
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
}
