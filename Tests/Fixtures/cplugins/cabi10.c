/* A drop-in built against ABI 1.0: its table ends at sink_released (MONA_PLUGIN_SIZE_1_0), without the
 * fields later minors appended. A 1.x host must load it and never read past its struct_size. */
#include "mona_plugin.h"

static void *create(const mona_host_api *host, const char *section) {
    (void)host;
    (void)section;
    static int instance;
    return &instance;
}

static void destroy(void *plugin) { (void)plugin; }

static const mona_plugin table = {
    .abi_version = 0x00010000u, /* 1.0 */
    .struct_size = MONA_PLUGIN_SIZE_1_0,
    .name = "abi10",
    .version = "1.0",
    .create = create,
    .destroy = destroy,
};

const mona_plugin *mona_plugin_entry(uint32_t host_abi_version) {
    return MONA_ABI_VERSION_MAJOR(host_abi_version) == 1 ? &table : NULL;
}
