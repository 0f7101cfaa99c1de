// The libFuzzer entry point of every fuzz target (built only with MONA_FUZZ set: see scripts/fuzz.sh).
// libFuzzer supplies `main`; the target to run is named by MONA_FUZZ_TARGET, read once.

import Glibc

/// The fuzz targets by name: each takes one input and must return without trapping, whatever the bytes.
enum FuzzTargets {
    static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "http": fuzzHTTPParser,
        "websocket-frames": fuzzWebSocketFrames,
        "websocket-handshake": fuzzWebSocketHandshake,
        "rtmp-handshake": fuzzRTMPHandshake,
        "rtmp-chunks": fuzzRTMPChunks,
        "rtmfp-chunks": fuzzRTMFPChunks,
        "rtsp-requests": fuzzRTSPRequests,
        "rtsp-sdp": fuzzRTSPSDP,
        "rtsp-rtp": fuzzRTSPRTP,
        "amf0": fuzzAMF0,
        "amf3": fuzzAMF3,
        "json": fuzzJSON,
        "xmlrpc": fuzzXMLRPC,
        "xml": fuzzXML,
        "query": fuzzQuery,
        "mvs": fuzzMVS,
        "ini": fuzzIni,
        "data": fuzzDataLoader,
        "server-frames": fuzzServerFrames,
    ]

    /// The target named by MONA_FUZZ_TARGET; exits with the list of names when it is missing or unknown.
    static let selected: @Sendable ([UInt8]) -> Void = {
        let name = getenv("MONA_FUZZ_TARGET").map { String(cString: $0) } ?? ""
        guard let target = all[name] else {
            let names = all.keys.sorted().joined(separator: " ")
            print("MONA_FUZZ_TARGET must be one of: \(names)")
            exit(2)
        }
        return target
    }()
}

/// Called by libFuzzer once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzTargets.selected(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
