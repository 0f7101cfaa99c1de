import Foundation
import Testing

@Suite("A folder with the executable, one plugin, an ini and www/ is a complete server", .serialized)
struct SlimBuildTests {
    @Test func theSingleProtocolLayoutRunsFromItsOwnFolder() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let server = "\(folder)/MonaServer-echo"
        // scripts/slim.sh builds in release and calls this same assembly step.
        let assembled = try TestEnvironment.run("/bin/bash", ["\(TestEnvironment.repository)/scripts/assemble.sh",
                                                              TestEnvironment.products, server, "echo"])
        #expect(assembled.status == 0, "\(assembled.output)")
        let files = try FileManager.default.contentsOfDirectory(atPath: server).sorted()
        #expect(files == ["MonaServer", "MonaServer.ini", "libMonaEcho.so", "www"])
        #expect(FileManager.default.fileExists(atPath: "\(server)/www/main.lua"))

        // Bind the echo service to a free loopback port, then start with no option at all: the
        // executable must find its ini, its plugin and its logs folder next to itself.
        let port = TestEnvironment.freePort()
        let ini = try String(contentsOfFile: "\(server)/MonaServer.ini", encoding: .utf8)
        try TestEnvironment.write(ini + "host=127.0.0.1\nport=\(port)\nudpPort=0\n", to: "\(server)/MonaServer.ini")
        let process = try ServerProcess(directory: server, ini: nil, executable: "\(server)/MonaServer", dirOption: false)
        try process.waitUntilStarted()
        #expect(process.output.contains("MonaServer started with echo"))
        #expect(!process.output.contains("not found"), "only the configured plugin is looked for")
        let client = try TestSocket(tcpPort: port)
        try client.send("slim")
        #expect(try client.receive(count: 4) == Array("slim".utf8))
        #expect(process.terminate().status == 0)
        #expect(FileManager.default.fileExists(atPath: "\(server)/logs/log.0"))
    }

    @Test func applicationDirInTheIniMovesWwwDataAndLogs() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let server = "\(folder)/bin"
        let assembled = try TestEnvironment.run("/bin/bash", ["\(TestEnvironment.repository)/scripts/assemble.sh",
                                                              TestEnvironment.products, server, "echo"])
        #expect(assembled.status == 0)
        try FileManager.default.createDirectory(atPath: "\(folder)/site/www", withIntermediateDirectories: true)
        try TestEnvironment.write("NOTE('site app loaded from ', mona:absolutePath(''))\n", to: "\(folder)/site/www/main.lua")
        let ini = try String(contentsOfFile: "\(server)/MonaServer.ini", encoding: .utf8)
        try TestEnvironment.write("application.dir=\(folder)/site/\n" + ini + "port=0\nudpPort=0\n", to: "\(server)/MonaServer.ini")
        let process = try ServerProcess(directory: server, ini: nil, executable: "\(server)/MonaServer", dirOption: false)
        try process.waitUntilStarted()
        #expect(process.waitFor("site app loaded from \(folder)/site/www/"))
        #expect(process.terminate().status == 0)
        #expect(FileManager.default.fileExists(atPath: "\(folder)/site/logs/log.0"))
    }
}
