// swift-tools-version:6.0
import PackageDescription

/// Protocol plugins: (product, target, folder). Each becomes `lib<product>.so`, loaded by the host.
let protocolPlugins: [(product: String, target: String, path: String)] = [
    ("MonaEcho", "EchoPlugin", "Plugins/echo"),
    ("MonaHTTP", "HTTPPlugin", "Plugins/http"),
    ("MonaWebSocket", "WebSocketPlugin", "Plugins/websocket"),
    ("MonaRTMP", "RTMPPlugin", "Plugins/rtmp"),
    ("MonaRTMFP", "RTMFPPlugin", "Plugins/rtmfp"),
    ("MonaRTSP", "RTSPPlugin", "Plugins/rtsp"),
]

/// The libFuzzer targets (scripts/fuzz.sh), declared only when MONA_FUZZ is set: a normal build never
/// sees their unsafe flags. libFuzzer supplies `main`, hence `-parse-as-library`.
let fuzzTargets: [Target] = Context.environment["MONA_FUZZ"] == nil ? [] : [
    .executableTarget(
        name: "MonaFuzz",
        dependencies: ["HTTPPlugin", "WebSocketPlugin", "RTMPPlugin", "RTMFPPlugin", "RTSPPlugin", "MonaCodecs", "MonaValues", "MonaHostCore",
                       "MonaPersistence"],
        path: "Fuzz/MonaFuzz",
        swiftSettings: [.unsafeFlags(["-parse-as-library"])]
    ),
]

let package = Package(
    name: "MonaServer",
    products: [
        .executable(name: "MonaServer", targets: ["Host"]),
    ] + protocolPlugins.map { .library(name: $0.product, type: .dynamic, targets: [$0.target]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // libuv from Debian (pkg-config "libuv"): the host's reactor.
        .systemLibrary(name: "CLibUV", path: "Sources/CLibUV", pkgConfig: "libuv",
                       providers: [.apt(["libuv1-dev"])]),
        // The stable C ABI: a header and nothing else (the .c file only makes it a C target).
        .target(name: "PluginABI", path: "Sources/PluginABI"),
        // OpenSSL's libcrypto behind a few plain C functions (SHA, HMAC, AES, DH, random).
        .target(
            name: "CMonaCrypto",
            path: "Sources/CMonaCrypto",
            linkerSettings: [.linkedLibrary("crypto")]
        ),
        // OpenSSL's libssl behind a few plain C functions: TLS over the host's own sockets (no socket in OpenSSL).
        .target(
            name: "CMonaTLS",
            path: "Sources/CMonaTLS",
            linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]
        ),
        // System tuning C cannot hand to Swift directly (glibc's malloc options).
        .target(name: "CMonaSystem", path: "Sources/CMonaSystem"),
        // LuaJIT from Debian (pkg-config "luajit"), and the C API macros as functions.
        .systemLibrary(name: "CLuaJIT", path: "Sources/CLuaJIT", pkgConfig: "luajit",
                       providers: [.apt(["libluajit-5.1-dev"])]),
        .target(name: "CLuaShim", dependencies: ["CLuaJIT"], path: "Sources/CLuaShim"),
        // The neutral value format (MVS) shared by the host and the Swift plugin helper.
        .target(name: "MonaValues", path: "Sources/MonaValues"),
        // Serializers between values and AMF0/AMF3, JSON, XML-RPC, query strings, and an XML DOM.
        .target(name: "MonaCodecs", dependencies: ["MonaValues"], path: "Sources/MonaCodecs"),
        // The disk side of Lua's `data`: MonaServer's folder layout, written crash-consistently.
        .target(name: "MonaPersistence", path: "Sources/MonaPersistence"),
        // Media containers over FLV bodies: FLV, fragmented MP4, MPEG-TS and the segmenter of HLS and
        // recordings (the HTTP plugin and the host's recorder). No Foundation.
        .target(name: "MonaMedia", path: "Sources/MonaMedia"),
        // The small Swift helper compiled into each Swift plugin. No NIO, no Foundation.
        .target(name: "MonaPluginKit", dependencies: ["PluginABI", "MonaValues"], path: "Sources/MonaPluginKit"),
        // The host: configuration, logging, plugin loader, reactor, services.
        .target(
            name: "MonaHostCore",
            dependencies: [
                "PluginABI", "CLibUV", "CMonaCrypto", "CMonaTLS", "CMonaSystem", "MonaValues", "MonaCodecs", "MonaPersistence", "MonaMedia", "CLuaJIT",
                "CLuaShim",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/MonaHostCore",
            // The Lua prelude: plain .lua files compiled into the binary as byte arrays (no bundle beside it).
            resources: ["core", "objects", "applications", "clients", "media", "data", "groups", "redirections", "sockets", "servers"].map {
                .embedInCode("Lua/Prelude/\($0).lua")
            }
        ),
        .executableTarget(name: "Host", dependencies: ["MonaHostCore"], path: "Sources/Host"),
        .testTarget(
            name: "MonaHostCoreTests",
            dependencies: ["MonaHostCore", "MonaValues", "MonaCodecs", "PluginABI", "CMonaCrypto", "RTMPPlugin"],
            path: "Tests/MonaHostCoreTests"
        ),
        // A recording fake host that drives one plugin in process (the sans-IO harness of the plugin tests).
        .target(name: "MonaPluginTesting", dependencies: ["PluginABI", "MonaValues", "CMonaCrypto", "MonaHostCore"],
                path: "Tests/MonaPluginTesting"),
        .testTarget(name: "PluginSessionTests",
                    dependencies: ["MonaPluginTesting", "MonaValues", "MonaCodecs", "PluginABI", "HTTPPlugin", "WebSocketPlugin",
                                   "RTMPPlugin", "RTSPPlugin", "CMonaCrypto"],
                    path: "Tests/PluginSessionTests"),
        .testTarget(name: "RTSPPluginTests", dependencies: ["RTSPPlugin"], path: "Tests/RTSPPluginTests"),
        .testTarget(name: "MonaValuesTests", dependencies: ["MonaValues"], path: "Tests/MonaValuesTests"),
        .testTarget(name: "HTTPPluginTests", dependencies: ["HTTPPlugin", "MonaMedia"], path: "Tests/HTTPPluginTests"),
        .testTarget(name: "RTMPPluginTests", dependencies: ["RTMPPlugin", "CMonaCrypto"], path: "Tests/RTMPPluginTests"),
        .testTarget(name: "RTMFPPluginTests",
                    dependencies: ["RTMFPPlugin", "MonaPluginTesting", "MonaValues", "MonaCodecs", "PluginABI", "CMonaCrypto"],
                    path: "Tests/RTMFPPluginTests"),
        .testTarget(name: "WebSocketPluginTests", dependencies: ["WebSocketPlugin", "CMonaCrypto"], path: "Tests/WebSocketPluginTests"),
        .testTarget(name: "MonaPluginKitTests", dependencies: ["MonaPluginKit", "MonaCodecs", "MonaValues"],
                    path: "Tests/MonaPluginKitTests"),
        .testTarget(name: "MonaCodecsTests", dependencies: ["MonaCodecs", "MonaValues"], path: "Tests/MonaCodecsTests"),
        .testTarget(name: "MonaPersistenceTests", dependencies: ["MonaPersistence"], path: "Tests/MonaPersistenceTests"),
    ] + protocolPlugins.map {
        .target(name: $0.target, dependencies: ["PluginABI", "MonaPluginKit"] + (["HTTPPlugin", "WebSocketPlugin"].contains($0.target) ? ["MonaMedia"] : []), path: $0.path)
    } + fuzzTargets
)
