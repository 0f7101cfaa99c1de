import MonaPluginKit
import Testing

/// PeerText cuts server paths out of error messages and leaves the API's names alone.
@Suite struct PeerTextTests {
    @Test(arguments: [
        ("/srv/mona/www/main.lua:2: attempt to index local 't' (a nil value)", "main.lua:2: attempt to index local 't' (a nil value)"),
        ("...mona/www/app/main.lua:12: boom", "main.lua:12: boom"),
        ("cannot open /srv/mona/www/lib.lua", "cannot open lib.lua"),
        ("module 'x' not found:\n\tno file './x.lua'\n\tno file '/usr/local/share/lua/5.1/x.lua'",
         "module 'x' not found:\n\tno file 'x.lua'\n\tno file 'x.lua'"),
        ("cannot read /var/lib/mona/data", "cannot read data"),
        ("Method client 'm' not found in application /app/sub", "Method client 'm' not found in application /app/sub"),
        ("Application /x doesn't exist", "Application /x doesn't exist"),
        ("kaboom", "kaboom"),
        ("a/b: relative words and 1/2 stay", "a/b: relative words and 1/2 stay"),
        ("", ""),
    ])
    func pathsAreCutToTheirFileNames(message: String, expected: String) {
        #expect(PeerText.withoutPaths(message) == expected)
    }
}
