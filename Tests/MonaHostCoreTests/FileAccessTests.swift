import Foundation
import Testing

/// client_read_file: Lua's client:onRead decides, the host confines the answer to www/.
@Suite("File access for clients (onRead, confinement)", .serialized)
struct FileAccessTests {
    @Test func onReadDecidesAndTheHostConfines() throws {
        let harness = try LuaHarness(files: [
            "www/main.lua": """
            function onConnection(client)
                function client:onRead(file, parameters)
                    if file == "secret.txt" then return nil end
                    if file == "alias.txt" then return "real.txt", { name = parameters and parameters.who or "?" } end
                    if file == "fail.txt" then error("nope", 0) end
                    if file == "self.txt" then client.writer:writeRaw("done") return end
                end
            end
            """,
            "www/hello.txt": "hello",
            "www/real.txt": "real",
            "www/sub/inside.txt": "inside",
            "outside.txt": "outside",
        ])
        try FileManager.default.createSymbolicLink(atPath: "\(harness.folder)/www/escape", withDestinationPath: harness.folder)
        let www = "\(harness.folder)/www"
        let session = try harness.connect()
        try session.expect("open /", "opened {}")
        try session.expect("read hello.txt", "allow \(www)/hello.txt ")
        try session.expect("read sub/inside.txt", "allow \(www)/sub/inside.txt ")
        try session.expect("read sub", "allow \(www)/sub/ ", "a folder ends with /")
        try session.expect("read", "allow \(www)/ ", "the application's own folder")
        try session.expect("read alias.txt", #"allow \#(www)/real.txt {name="?"}"#, "onRead redirects and fills template values")
        try session.expect("read secret.txt", "deny PERMISSION No authorization to see the content of secret.txt")
        try session.expect("read fail.txt", "deny SCRIPT nope")
        try session.expect("read self.txt", "raw done")
        #expect(try session.readLine() == "handled")
        for refused in ["main.lua", "MAIN.LUA", "missing.txt", "../outside.txt", "sub/../../outside.txt", "escape/outside.txt",
                        "escape/www/hello.txt/../../outside.txt"] {
            let answer = try session.command("read \(refused)")
            #expect(answer.hasPrefix("deny NOTFOUND File "), "\(refused): \(answer)")
        }
    }
}
