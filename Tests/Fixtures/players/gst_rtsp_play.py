"""Plays an RTSP URL with GStreamer's rtspsrc (Python bindings) and decodes its H.264 video and AAC
audio: exits 0 once each decoder gave COUNT buffers, 1 on an error or after SECONDS.

Usage: gst_rtsp_play.py URL TRANSPORT(tcp|udp) COUNT SECONDS

gst-launch-1.0 links rtspsrc's pads by "delayed linking", which races when the video and audio pads
come at the same moment from two streaming threads: now and then the audio branch stays unlinked and
the pipeline never ends (seen about once in 40 runs). Here each pad is linked by its caps' media.
"""
import sys
import gi
gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst

Gst.init(None)
url, transport, count, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
pipeline = Gst.Pipeline.new("player")
source = Gst.ElementFactory.make("rtspsrc", "source")
source.set_property("location", url)
Gst.util_set_object_arg(source, "protocols", transport)
pipeline.add(source)
branches = {
    "video": Gst.parse_bin_from_description(f"rtph264depay ! h264parse ! avdec_h264 ! fakesink num-buffers={count}", True),
    "audio": Gst.parse_bin_from_description(f"rtpmp4gdepay ! aacparse ! avdec_aac ! fakesink num-buffers={count}", True),
}
for branch in branches.values():
    pipeline.add(branch)
linked = []

def pad_added(element, pad):
    caps = pad.get_current_caps() or pad.query_caps(None)
    media = caps.get_structure(0).get_string("media")
    branch = branches.get(media)
    if branch is not None and pad.link(branch.get_static_pad("sink")) == Gst.PadLinkReturn.OK:
        linked.append(media)

source.connect("pad-added", pad_added)
loop = GLib.MainLoop()
status = [1]

def on_message(bus, message):
    if message.type == Gst.MessageType.EOS:
        status[0] = 0
        loop.quit()
    elif message.type == Gst.MessageType.ERROR:
        error, debug = message.parse_error()
        print("error:", error.message, debug, flush=True)
        loop.quit()

def on_timeout():
    print("timeout: no end of stream after", seconds, "s; linked", sorted(linked), flush=True)
    loop.quit()
    return False

bus = pipeline.get_bus()
bus.add_signal_watch()
bus.connect("message", on_message)
GLib.timeout_add_seconds(seconds, on_timeout)
pipeline.set_state(Gst.State.PLAYING)
loop.run()
pipeline.set_state(Gst.State.NULL)
print("linked", sorted(linked), "status", status[0], flush=True)
sys.exit(status[0])
