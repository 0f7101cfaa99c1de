import Testing
@testable import MonaHostCore

@Suite("MonaServer.ini and the plugin plan")
struct ConfigTests {
    @Test func parsesSectionsCommentsAndTrimming() {
        let ini = IniFile(text: """
        ; a comment
          ; an indented comment
        host = 127.0.0.1
        [RTMP]
        port=19350   
        timeout =  30
        [HTTP]
        index=index.html ; not a comment: kept
        flag
        quoted="a b"
        """)
        #expect(ini.entries == [
            .init(key: "host", value: "127.0.0.1"),
            .init(key: "RTMP.port", value: "19350"),
            .init(key: "RTMP.timeout", value: "30"),
            .init(key: "HTTP.index", value: "index.html ; not a comment: kept"),
            .init(key: "HTTP.flag", value: ""),
            .init(key: "HTTP.quoted", value: "\"a b\""),
        ])
        #expect(ini.sections == ["RTMP", "HTTP"])
    }

    @Test func laterDuplicatesOverrideAndKeysAreCaseSensitive() {
        let ini = IniFile(text: "[HTTP]\nport=1\nPort=2\nport=3\r\n")
        #expect(ini.entries == [.init(key: "HTTP.port", value: "3"), .init(key: "HTTP.Port", value: "2")])
    }

    @Test func theHostsDefaultsAreTheServersOnly() {
        let config = ServerConfig(ini: nil)
        #expect(config["host"] == "0.0.0.0")
        #expect(config.int("logs.rotation", default: 0) == 10)
        #expect(config.int("logs.maxSize", default: 0) == 1_000_000)
        for key in ["RTMP.port", "RTMFP.port", "HTTP.port", "RTSP.port", "HTTP.timeout", "WebSocket.timeout"] {
            #expect(config[key] == nil, "\(key) is its plugin's to declare")
        }
    }

    @Test func iniOverridesDefaultsAndExtraOverridesIni() {
        let config = ServerConfig(ini: IniFile(text: "[HTTP]\nport=8080\n"), extra: ["arguments.log": "8"])
        #expect(config.int("HTTP.port", default: 0) == 8080)
        #expect(config["arguments.log"] == "8")
        #expect(config.keys(withPrefix: "HTTP.") == ["HTTP.port"])
    }

    @Test func protocolDefaultsComeFromTheirPluginsAndLuaSeesThem() throws {
        let (rtmp, http) = (TestEnvironment.freePort(), TestEnvironment.freePort())
        let app = "function onConnection(client) function client:conf(key) return tostring(mona.configs[key]) end end"
        let harness = try LuaHarness(files: ["www/main.lua": app], ini: "RTMP.port=\(rtmp)\nHTTP.port=\(http)\nWebSocket.timeout=5\n")
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        let expected = ["RTMP.timeout": "60", "HTTP.timeout": "7", "HTTP.index": "true", "WebSocket.timeout": "5",
                        "RTMP.port": "\(rtmp)", "RTMP.publicAddress": "127.0.0.1:\(rtmp)", "HTTP.publicAddress": "127.0.0.1:\(http)"]
        for (key, value) in expected.sorted(by: { $0.key < $1.key }) {
            try session.expect("call conf \(key)", "ok \"\(value)\"", "\(key): the plugin's default, or what the ini set")
        }
    }

    @Test(arguments: [("0", false), ("false", false), ("No", false), ("OFF", false), ("", false),
                      ("1", true), ("true", true), ("yes", true), ("anything", true)])
    func booleansFollowMonaServer(text: String, expected: Bool) {
        #expect(ServerConfig.parseBool(text) == expected)
    }

    @Test func zeroPortDisablesAProtocolAndWebSocketFollowsHTTP() {
        let plan = PluginPlan(config: ServerConfig(ini: IniFile(text: "RTMFP.port=0\nHTTP.port=0\n[RTSP]\nenabled=false\n")))
        #expect(plan.items.map(\.section) == ["RTMP"])
        #expect(plan.disabled.map(\.section) == ["RTMFP", "HTTP", "WebSocket", "RTSP"])
        #expect(plan.disabled.map(\.reason) == ["RTMFP.port=0", "HTTP.port=0", "HTTP.port=0", "RTSP.enabled=false"])
    }

    @Test func aZeroPortWithATLSPortLeavesTLSOnlyAndWebSocketFollowsHTTPs() {
        let plan = PluginPlan(config: ServerConfig(ini: IniFile(text: "RTMFP.port=0\nRTSP.port=0\nRTMP.port=0\nRTMP.tlsPort=0\n[HTTP]\nport=0\ntlsPort=443\n[TLS]\nlibrary=x\n")))
        #expect(plan.items.map(\.section) == ["HTTP", "WebSocket"])
        #expect(plan.disabled.map(\.section) == ["RTMFP", "RTMP", "RTSP"])
    }

    @Test func builtInsLoadByDefaultWithTheirLibraryNames() {
        let plan = PluginPlan(config: ServerConfig(ini: nil))
        #expect(plan.items.map(\.section) == PluginPlan.builtIns.map(\.section))
        #expect(plan.items.map(\.library) == ["libMonaRTMFP.so", "libMonaRTMP.so", "libMonaHTTP.so",
                                              "libMonaWebSocket.so", "libMonaRTSP.so"])
        #expect(plan.items.allSatisfy { $0.implicit })
    }

    @Test func dropInsNeedALibraryAndKeepIniOrder() {
        let plan = PluginPlan(config: ServerConfig(ini: IniFile(text: """
        RTMFP.port=0
        RTMP.port=0
        HTTP.port=0
        RTSP.port=0
        [zeta]
        library=libzeta.so
        entry=zeta_entry
        [logs]
        library=ignored.so
        [alpha]
        library=/opt/alpha.so
        [beta]
        library=libbeta.so
        enabled=off
        [gamma]
        port=12
        """)))
        #expect(plan.items == [
            .init(section: "zeta", library: "libzeta.so", entry: "zeta_entry", implicit: false),
            .init(section: "alpha", library: "/opt/alpha.so", entry: nil, implicit: false),
        ])
        #expect(plan.disabled.map(\.section).suffix(1) == ["beta"])
    }

    @Test func aMentionedBuiltInIsNotImplicit() {
        let plan = PluginPlan(config: ServerConfig(ini: IniFile(text: "[RTMP]\ntimeout=5\n")))
        #expect(plan.items.first { $0.section == "RTMP" }?.implicit == false)
        #expect(plan.items.first { $0.section == "HTTP" }?.implicit == true)
    }

    @Test func commandLineOptionsBecomeArgumentKeys() throws {
        let command = try ServerCommand.parseMonaServer(["--log:8", "--custom=value", "-flag", "--other:x", "-dir", "/tmp",
                                                         "-alone"])
        #expect(command.log == 8)
        #expect(command.dir == "/tmp")
        #expect(command.argumentKeys == ["arguments.log": "8", "arguments.dir": "/tmp", "arguments.custom": "value",
                                         "arguments.flag": "", "arguments.other": "x", "arguments.alone": ""])
        #expect(try ServerCommand.parseMonaServer(["-l=3"]).log == 3)
        #expect(try ServerCommand.parseMonaServer(["-l", "2"]).log == 2)
    }

    @Test func logLevelOutOfRangeIsRefused() {
        #expect(throws: (any Error).self) { try ServerCommand.parseMonaServer(["--log=9"]) }
    }
}
