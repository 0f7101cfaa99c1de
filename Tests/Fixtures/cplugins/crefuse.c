/* A plugin that refuses every host (its entry returns NULL): the host must log the refusal. */
#include <mona_plugin.h>

const mona_plugin *mona_plugin_entry(uint32_t host_abi_version) {
    (void)host_abi_version;
    return NULL;
}
