/* libuv from Debian (libuv1-dev, pkg-config "libuv"): the host's reactor. */
#ifndef MONA_CLIBUV_SHIM_H
#define MONA_CLIBUV_SHIM_H
#include <uv.h>
#endif
