/* PluginABI is a header-only C target: see include/mona_plugin.h. */
