/* A plugin built for a future ABI major: the host must refuse it, naming the file and both versions. */
#include <mona_plugin.h>

static const mona_plugin table = {
    .abi_version = 0x00020000u, /* 2.0 */
    .struct_size = sizeof(mona_plugin),
    .name = "wrongmajor",
    .version = "1.0",
};

const mona_plugin *mona_plugin_entry(uint32_t host_abi_version) {
    (void)host_abi_version;
    return &table;
}
