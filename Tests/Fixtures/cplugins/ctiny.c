/* A table too short to hold even the 1.0 entry points: the host refuses it. */
#include "mona_plugin.h"

static const mona_plugin table = {
    .abi_version = 0x00010000u,
    .struct_size = 24,
    .name = "tiny",
    .version = "0",
};

const mona_plugin *mona_plugin_entry(uint32_t host_abi_version) {
    (void)host_abi_version;
    return &table;
}
