#!/usr/bin/python3
# bench/rtsp-peer/gst_rtsp_server.py: the peer of bench/rtsp-peer/run.sh, GStreamer's RTSP server
# (gst-rtsp-server through python3-gst's GstRtspServer) relaying one live MPEG-TS input to RTSP
# players, over RTP/AVP/TCP interleaved and over RTP/AVP over UDP.
#
# Usage: gst_rtsp_server.py <rtsp_port> <mount> <ts_udp_port> <mtu> <lifetime_s>
#   rtsp_port    RTSP port, bound on 127.0.0.1
#   mount        path of the stream, e.g. /live/bench
#   ts_udp_port  UDP port (127.0.0.1) the MPEG-TS input arrives on (H.264 + AAC, e.g.
#                ffmpeg -c copy -f mpegts udp://127.0.0.1:<port>?pkt_size=1316)
#   mtu          largest RTP packet the payloaders make, in bytes
#   lifetime_s   the server exits by itself after this long (a bound in case nobody stops it)
# Needs: python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good
#        gstreamer1.0-plugins-bad (Debian's python3, /usr/bin/python3).
#
# One SHARED media factory: the first DESCRIBE builds and prepares the pipeline below, every later
# player of the mount is served by the same pipeline (one udpsrc, one demuxer, one payloader per
# track; rtpbin's sinks send each RTP packet to every player). When its last player leaves the media
# is torn down, and the next DESCRIBE builds it again (the input is UDP, so the publisher does not
# notice). Settings beside GStreamer's defaults, for the benchmark only: sessions time out after
# 600 s (as our server's RTSP.timeout in run.sh), a listen backlog of 1024 (the default, 5, makes
# connection bursts wait for SYN retries), and a player's sessions are removed as soon as its RTSP
# connection closes (RTP over UDP would otherwise keep going to it until the session times out).
# Prints "ready <port>" once listening; exits 0 on SIGTERM or SIGINT.
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    if len(sys.argv) != 6:
        sys.stderr.write("usage: gst_rtsp_server.py <rtsp_port> <mount> <ts_udp_port> <mtu> <lifetime_s>\n")
        return 2
    rtsp_port, mount = int(sys.argv[1]), sys.argv[2]
    udp_port, mtu, lifetime = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    Gst.init(None)

    # tsdemux's pads appear once the PMT is read; the caps filters pick which branch each one feeds.
    launch = (
        f"( udpsrc address=127.0.0.1 port={udp_port} buffer-size=4194304 caps=video/mpegts,systemstream=true"
        " ! tsdemux name=d"
        f" d. ! video/x-h264 ! queue ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 mtu={mtu}"
        f" d. ! audio/mpeg ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97 mtu={mtu} )"
    )
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(rtsp_port))
    server.set_backlog(1024)
    server.get_mount_points().add_factory(mount, factory)
    pool = server.get_session_pool()

    def drop_session(_client, session, *_):
        pool.remove(session)
        return GstRtspServer.RTSPFilterResult.REMOVE

    def on_closed(client):
        client.session_filter(drop_session, None)

    def on_new_session(_client, session):
        session.set_timeout(600)

    def on_client(_server, client):
        client.connect("new-session", on_new_session)
        client.connect("closed", on_closed)

    server.connect("client-connected", on_client)
    if server.attach(None) == 0:
        sys.stderr.write(f"gst_rtsp_server: cannot listen on 127.0.0.1:{rtsp_port}\n")
        return 1

    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, loop.quit)

    def expired():
        sys.stderr.write(f"gst_rtsp_server: lifetime of {lifetime} s reached, exiting\n")
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.timeout_add_seconds(lifetime, expired)
    print(f"ready {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
