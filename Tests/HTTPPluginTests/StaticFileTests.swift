import Testing
@testable import HTTPPlugin
import MonaPluginKit

// Expected values come from RFC 9110 (dates, conditions, ranges), RFC 6265 (cookies) and protocols.md §4.4–4.9.

/// A file of 1000 bytes modified at 784111777.5 s ("Sun, 06 Nov 1994 08:49:37 GMT").
private let file = FileValidators(size: 1000, modifiedSeconds: 784_111_777, modifiedNanoseconds: 500_000_000)
private let fileDate = "Sun, 06 Nov 1994 08:49:37 GMT"

/// A header lookup over `fields` (names compared case-insensitively).
private func headers(_ fields: [String: String]) -> (String) -> String? {
    { name in fields.first { FileText.equalsIgnoringCase($0.key, name) }?.value }
}

/// FileConditions.evaluate for a GET (or `method`) with the given headers.
private func condition(_ fields: [String: String], method: String = "GET") -> ConditionalOutcome {
    FileConditions.evaluate(method: method, header: headers(fields), validators: file)
}

/// ByteRange.evaluate against `validators` (default: the 1000-byte file).
private func range(_ header: String?, ifRange: String? = nil, validators: FileValidators = file) -> ByteRangeOutcome {
    ByteRange.evaluate(rangeHeader: header, ifRange: ifRange, validators: validators)
}

/// Template.apply on text.
private func template(_ text: String, _ values: [String: String]) -> String {
    String(decoding: Template.apply(Array(text.utf8), values: values), as: UTF8.self)
}

@Suite struct MIMETypeTests {
    @Test(arguments: [
        ("index.html", "text/html; charset=utf-8"), ("a.HTM", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"), ("app.js", "text/javascript; charset=utf-8"),
        ("mod.mjs", "text/javascript; charset=utf-8"), ("data.json", "application/json"),
        ("feed.xml", "application/xml; charset=utf-8"), ("notes.txt", "text/plain; charset=utf-8"),
        ("logo.svg", "image/svg+xml"), ("pic.png", "image/png"), ("PIC.JPG", "image/jpeg"),
        ("pic.jpeg", "image/jpeg"), ("anim.gif", "image/gif"), ("pic.webp", "image/webp"),
        ("favicon.ico", "image/x-icon"), ("old.bmp", "image/bmp"), ("new.avif", "image/avif"),
        ("f.woff", "font/woff"), ("f.woff2", "font/woff2"), ("f.ttf", "font/ttf"), ("f.otf", "font/otf"),
        ("doc.pdf", "application/pdf"), ("a.zip", "application/zip"), ("a.tar.gz", "application/gzip"),
        ("m.wasm", "application/wasm"), ("v.mp4", "video/mp4"), ("s.m4a", "audio/mp4"), ("s.mp3", "audio/mpeg"),
        ("s.ogg", "audio/ogg"), ("s.oga", "audio/ogg"), ("v.ogv", "video/ogg"), ("v.webm", "video/webm"),
        ("s.wav", "audio/wav"), ("s.flac", "audio/flac"), ("live.flv", "video/x-flv"), ("seg.ts", "video/mp2t"),
        ("list.m3u", "application/vnd.apple.mpegurl"), ("list.M3U8", "application/vnd.apple.mpegurl"),
        ("old.swf", "application/x-shockwave-flash"), ("app.js.map", "application/json"),
        ("t.csv", "text/csv; charset=utf-8"), ("README.md", "text/markdown; charset=utf-8"),
        ("/www/app/Page.Html", "text/html; charset=utf-8"),
    ])
    func knownExtensions(name: String, type: String) {
        #expect(MIMETypes.type(forFileName: name) == type)
    }

    @Test(arguments: ["file.unknownext", "Makefile", "dir.d/file", "/www/.htaccess", "/www/.png", "trailing.", "",
                      "a.png/"])
    func unknownIsOctetStream(name: String) {
        #expect(MIMETypes.type(forFileName: name) == "application/octet-stream")
    }

    @Test func textTypes() {
        for type in ["text/html; charset=utf-8", "text/css", "Text/Plain", "text/javascript; charset=utf-8",
                     "application/javascript", "application/json", "application/ld+json", "application/xml",
                     "image/svg+xml"] {
            #expect(MIMETypes.isText(type), "\(type)")
        }
        for type in ["image/png", "application/octet-stream", "video/mp4", "font/woff2", "application/pdf", ""] {
            #expect(!MIMETypes.isText(type), "\(type)")
        }
        #expect(MIMETypes.isText(MIMETypes.type(forFileName: "a.html")))
        #expect(!MIMETypes.isText(MIMETypes.type(forFileName: "a.jpg")))
    }
}

@Suite struct HTTPDateTests {
    @Test(arguments: [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"), (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"), (1_234_567_890, "Fri, 13 Feb 2009 23:31:30 GMT"),
        (2_147_483_647, "Tue, 19 Jan 2038 03:14:07 GMT"), (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"),
        (-1, "Wed, 31 Dec 1969 23:59:59 GMT"), (1_709_164_799, "Wed, 28 Feb 2024 23:59:59 GMT"),
        (1_709_251_199, "Thu, 29 Feb 2024 23:59:59 GMT"),
    ])
    func format(seconds: Int, text: String) {
        #expect(HTTPDate.format(seconds) == text)
        #expect(HTTPDate.parse(text) == seconds)
    }

    @Test func parsesTheThreeFormats() {
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == 784_111_777)
        #expect(HTTPDate.parse("Sun Nov 06 08:49:37 1994") == 784_111_777)
        #expect(HTTPDate.parse("  sun, 06 nov 1994 08:49:37 gmt ") == 784_111_777)
        #expect(HTTPDate.parse("Thursday, 01-Jan-70 00:00:00 GMT") == 0)
        #expect(HTTPDate.parse("Saturday, 01-Jan-00 00:00:00 GMT") == 946_684_800)
        #expect(HTTPDate.parse("Thursday, 01-Jan-60 00:00:00 GMT") == 2_840_140_800) // 00–69 → 20xx
        #expect(HTTPDate.parse("Tuesday, 31-Dec-69 23:59:59 GMT") == 3_155_759_999)
    }

    @Test(arguments: [
        "", "garbage", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT", "Sun, 6x Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun 06 Nov 1994 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37", "Sun Nov 32 08:49:37 1994",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37:00 GMT", "Sun, -6 Nov 1994 08:49:37 GMT",
    ])
    func invalidIsNil(text: String) {
        #expect(HTTPDate.parse(text) == nil)
    }

    @Test func leapYears() {
        #expect(HTTPDate.parse("Tue, 29 Feb 2000 00:00:00 GMT") == 951_782_400)
        #expect(HTTPDate.parse("Mon, 29 Feb 2100 00:00:00 GMT") == nil)
        #expect(HTTPDate.parse("Sun, 29 Feb 2023 00:00:00 GMT") == nil)
    }
}

@Suite struct FileConditionTests {
    @Test func etagShape() {
        // 1000 = 0x3e8; 784111777.5 s = 784111777500000000 ns = 0xae1b981da166f00.
        #expect(file.etag == "\"3e8-ae1b981da166f00\"")
        #expect(file.modified == 784_111_777 && file.size == 1000)
        #expect(FileValidators(size: 1000, modifiedSeconds: 784_111_777, modifiedNanoseconds: 1).etag != file.etag)
    }

    @Test func noConditionsSends() {
        #expect(condition([:]) == .send)
    }

    @Test func ifMatchIsStrong() {
        #expect(condition(["If-Match": file.etag]) == .send)
        #expect(condition(["If-Match": "\"other\", \(file.etag)"]) == .send)
        #expect(condition(["If-Match": "*"]) == .send)
        #expect(condition(["If-Match": "W/\(file.etag)"]) == .preconditionFailed)
        #expect(condition(["If-Match": "\"other\""]) == .preconditionFailed)
        #expect(condition(["If-Match": "\"other\""], method: "POST") == .preconditionFailed)
    }

    @Test func ifUnmodifiedSince() {
        #expect(condition(["If-Unmodified-Since": fileDate]) == .send)
        #expect(condition(["If-Unmodified-Since": HTTPDate.format(file.modified + 60)]) == .send)
        #expect(condition(["If-Unmodified-Since": HTTPDate.format(file.modified - 1)]) == .preconditionFailed)
        #expect(condition(["If-Unmodified-Since": "not a date"]) == .send)
        // If-Match present: If-Unmodified-Since is not evaluated.
        #expect(condition(["If-Match": file.etag, "If-Unmodified-Since": HTTPDate.format(0)]) == .send)
    }

    @Test func ifNoneMatchIsWeak() {
        #expect(condition(["If-None-Match": file.etag]) == .notModified)
        #expect(condition(["If-None-Match": "W/\(file.etag)"]) == .notModified)
        #expect(condition(["If-None-Match": "\"a\", W/\"b\",\(file.etag)"]) == .notModified)
        #expect(condition(["If-None-Match": "*"]) == .notModified)
        #expect(condition(["If-None-Match": file.etag], method: "HEAD") == .notModified)
        #expect(condition(["If-None-Match": "\"other\""]) == .send)
        #expect(condition(["If-None-Match": "W/\"other\""]) == .send)
        #expect(condition(["If-None-Match": file.etag], method: "POST") == .preconditionFailed)
        #expect(condition(["If-None-Match": "\"other\""], method: "POST") == .send)
    }

    @Test func ifModifiedSince() {
        #expect(condition(["If-Modified-Since": fileDate]) == .notModified) // equal dates
        #expect(condition(["If-Modified-Since": "Sunday, 06-Nov-94 08:49:37 GMT"]) == .notModified)
        #expect(condition(["If-Modified-Since": HTTPDate.format(file.modified + 3600)]) == .notModified)
        #expect(condition(["If-Modified-Since": HTTPDate.format(file.modified - 1)]) == .send)
        #expect(condition(["If-Modified-Since": "yesterday"]) == .send)
        #expect(condition(["If-Modified-Since": fileDate], method: "HEAD") == .notModified)
        #expect(condition(["If-Modified-Since": fileDate], method: "POST") == .send)
        #expect(condition(["if-modified-since": fileDate]) == .notModified)
    }

    @Test func precedence() {
        // If-None-Match wins over If-Modified-Since, both ways.
        #expect(condition(["If-None-Match": "\"other\"", "If-Modified-Since": fileDate]) == .send)
        #expect(condition(["If-None-Match": file.etag, "If-Modified-Since": HTTPDate.format(0)]) == .notModified)
        // A failed If-Match beats a matching If-None-Match.
        #expect(condition(["If-Match": "\"other\"", "If-None-Match": file.etag]) == .preconditionFailed)
        // A failed If-Unmodified-Since beats If-Modified-Since.
        #expect(condition(["If-Unmodified-Since": HTTPDate.format(0), "If-Modified-Since": fileDate])
                == .preconditionFailed)
        #expect(condition(["If-Match": file.etag, "If-None-Match": file.etag]) == .notModified)
    }
}

@Suite struct ByteRangeTests {
    @Test func forms() {
        #expect(range(nil) == .full)
        #expect(range("bytes=0-99") == .partial(first: 0, last: 99))
        #expect(range("bytes=100-199") == .partial(first: 100, last: 199))
        #expect(range("bytes=5-5") == .partial(first: 5, last: 5))
        #expect(range("bytes=900-") == .partial(first: 900, last: 999))
        #expect(range("bytes=-100") == .partial(first: 900, last: 999))
        #expect(range("bytes=-5000") == .partial(first: 0, last: 999))
        #expect(range("Bytes = 10-19 ") == .partial(first: 10, last: 19))
        #expect(range("bytes=0-0,") == .partial(first: 0, last: 0))
    }

    @Test func clampsAndUnsatisfiable() {
        #expect(range("bytes=500-5000") == .partial(first: 500, last: 999))
        #expect(range("bytes=999-99999999999999999999999") == .partial(first: 999, last: 999))
        #expect(range("bytes=1000-") == .unsatisfiable)
        #expect(range("bytes=1000-1200") == .unsatisfiable)
        #expect(range("bytes=99999999999999999999999-") == .unsatisfiable)
        #expect(range("bytes=-0") == .unsatisfiable)
        let empty = FileValidators(size: 0, modifiedSeconds: 0, modifiedNanoseconds: 0)
        #expect(range("bytes=0-", validators: empty) == .unsatisfiable)
        #expect(range("bytes=-10", validators: empty) == .unsatisfiable)
    }

    @Test(arguments: ["bytes=0-1,5-9", "bytes=-5, 0-1", "items=0-9", "bytes 0-9", "bytes=", "bytes=-", "bytes=a-b",
                      "bytes=9-0", "bytes=0-9x", "bytes=--5", "bytes=1-2-3", "=0-9", "bytes=+1-2", ""])
    func multipleOrMalformedIsFull(header: String) {
        #expect(range(header) == .full)
    }

    @Test func ifRange() {
        #expect(range("bytes=0-9", ifRange: file.etag) == .partial(first: 0, last: 9))
        #expect(range("bytes=0-9", ifRange: " \(file.etag) ") == .partial(first: 0, last: 9))
        #expect(range("bytes=0-9", ifRange: fileDate) == .partial(first: 0, last: 9))
        #expect(range("bytes=0-9", ifRange: "\"other\"") == .full)
        #expect(range("bytes=0-9", ifRange: "W/\(file.etag)") == .full)
        #expect(range("bytes=0-9", ifRange: HTTPDate.format(file.modified + 1)) == .full)
        #expect(range("bytes=0-9", ifRange: HTTPDate.format(file.modified - 1)) == .full)
        #expect(range("bytes=0-9", ifRange: "garbage") == .full)
        #expect(range("bytes=5000-", ifRange: "\"other\"") == .full)
        #expect(range(nil, ifRange: file.etag) == .full)
    }
}

@Suite struct FolderListingTests {
    private func page(_ path: String, _ entries: [FolderListing.Entry]) -> String {
        String(decoding: FolderListing.page(urlPath: path, entries: entries), as: UTF8.self)
    }

    @Test func escapesNamesForHTMLAndURL() {
        let html = page("/app/<b>/", [(name: "<script>alert('x')</script>.txt", isFolder: false, size: 10, modified: 0),
                                       (name: "a b&c.txt", isFolder: false, size: 1, modified: 0),
                                       (name: "été\"x", isFolder: false, size: 1, modified: 0),
                                       (name: "javascript:alert(1)", isFolder: false, size: 1, modified: 0)])
        #expect(!html.contains("<script>"))
        #expect(!html.contains("<b>"))
        #expect(html.contains("Index of /app/&lt;b&gt;/"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;.txt</a>"))
        #expect(html.contains("href=\"%3Cscript%3Ealert%28%27x%27%29%3C%2Fscript%3E.txt\""))
        #expect(html.contains("href=\"a%20b%26c.txt\">a b&amp;c.txt</a>"))
        #expect(html.contains("href=\"%C3%A9t%C3%A9%22x\">été&quot;x</a>"))
        #expect(html.contains("href=\"javascript%3Aalert%281%29\""))
    }

    @Test func orderParentSizesAndDates() {
        let html = page("/app/", [(name: "b.txt", isFolder: false, size: 2048, modified: 784_111_777),
                                  (name: "zdir", isFolder: true, size: 4096, modified: 0),
                                  (name: "a.txt", isFolder: false, size: 12, modified: 0),
                                  (name: "adir", isFolder: true, size: 4096, modified: 0)])
        let order = ["href=\"../\"", "href=\"adir/\"", "href=\"zdir/\"", "href=\"a.txt\"", "href=\"b.txt\""]
        let positions = order.map { link in html.ranges(of: link).first?.lowerBound }
        #expect(positions.allSatisfy { $0 != nil })
        #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted())
        #expect(html.contains(">adir/</a>"))
        #expect(html.contains("06-Nov-1994 08:49"))
        #expect(html.contains("01-Jan-1970 00:00"))
        #expect(html.contains("2.0 KB") && html.contains("12 B"))
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(!page("/", []).contains("href=\"../\""))
    }

    @Test func sizes() {
        #expect(FolderListing.sizeText(0) == "0 B")
        #expect(FolderListing.sizeText(1023) == "1023 B")
        #expect(FolderListing.sizeText(1536) == "1.5 KB")
        #expect(FolderListing.sizeText(5 * 1024 * 1024) == "5.0 MB")
        #expect(FolderListing.sizeText(3 * 1024 * 1024 * 1024 + 1) == "3.0 GB")
    }
}

@Suite struct TemplateTests {
    @Test func substitutes() {
        #expect(template("Hello <%name%>!", ["name": "Mona"]) == "Hello Mona!")
        #expect(template("Hello <% name %>!", ["name": "Mona"]) == "Hello Mona!")
        #expect(template("Hello <%\tname\n%>!", ["name": "Mona"]) == "Hello Mona!")
        #expect(template("[<% missing %>]", ["name": "Mona"]) == "[]")
        #expect(template("<%a%><%b%><% a %>", ["a": "1", "b": "2"]) == "121")
        #expect(template("<%a%>", ["a": "é<b>"]) == "é<b>")
        #expect(template("no tokens < % here %>", ["a": "1"]) == "no tokens < % here %>")
        #expect(template("", ["a": "1"]) == "")
    }

    @Test func unterminatedAndOdd() {
        #expect(template("a <% b", ["b": "x"]) == "a <% b")
        #expect(template("<%", [:]) == "<%")
        #expect(template("<%>", ["": "x"]) == "<%>")
        #expect(template("<% a <%b%>", ["b": "x", "a": "y"]) == "<% a x")
        #expect(template("x %> <%a%>", ["a": "1"]) == "x %> 1")
        #expect(template("<%%>", ["": "e"]) == "e")
    }

    @Test func doesNotRescan() {
        #expect(template("<%a%>", ["a": "<%b%>", "b": "no"]) == "<%b%>")
        #expect(template("<%a%>%>", ["a": "<%b"]) == "<%b%>")
        #expect(template("<%a%>b%>", ["a": "<%"]) == "<%b%>")
    }

    @Test func largeInputIsLinear() {
        let opener = Array(String(repeating: "<%", count: 100_000).utf8)
        #expect(Template.apply(opener, values: [:]) == opener)
        let tokens = Array(String(repeating: "<%k%>.", count: 50_000).utf8)
        #expect(Template.apply(tokens, values: ["k": "v"]) == Array(String(repeating: "v.", count: 50_000).utf8))
    }
}

@Suite struct ErrorPageAndCookieTests {
    @Test func errorPage() {
        let page = ErrorPage.html(status: 404, reason: "Not Found", message: "File /x.txt doesn't exist")
        let html = String(decoding: page, as: UTF8.self)
        #expect(html == "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1>"
                + "<p>File /x.txt doesn&#39;t exist</p></body></html>")
        let escaped = String(decoding: ErrorPage.html(status: 500, reason: "Internal Server Error",
                                                      message: "<script>&\"</script>"), as: UTF8.self)
        #expect(escaped.contains("<p>&lt;script&gt;&amp;&quot;&lt;/script&gt;</p>"))
        #expect(!escaped.contains("<script>"))
    }

    @Test func reasons() {
        let expected = [100: "Continue", 101: "Switching Protocols", 200: "OK", 204: "No Content",
                        206: "Partial Content", 301: "Moved Permanently", 304: "Not Modified", 400: "Bad Request",
                        403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
                        411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
                        414: "URI Too Long", 416: "Range Not Satisfiable", 423: "Locked", 426: "Upgrade Required",
                        431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
                        503: "Service Unavailable", 505: "HTTP Version Not Supported"]
        for (status, reason) in expected {
            #expect(HTTPStatus.reason(status) == reason, "\(status)")
        }
        #expect(HTTPStatus.reason(299) == "Unknown")
    }

    @Test func parseCookies() {
        let pairs = Cookies.parse("a=1; b=two;c=\"quoted value\" ;  d= ; e=x=y; flag;; f=\"")
        #expect(pairs.map(\.name) == ["a", "b", "c", "d", "e", "flag", "f"])
        #expect(pairs.map(\.value) == ["1", "two", "quoted value", "", "x=y", "", "\""])
        #expect(Cookies.parse("").isEmpty)
        #expect(Cookies.parse("sid=%41%20").first?.value == "%41%20")
    }

    @Test func cookieNamesAreTokens() {
        #expect(Cookies.isToken("session_id") && Cookies.isToken("a-b.c!"))
        for bad in ["", "a b", "a;b", "a=b", "a\r\nX: y", "é", "a\"b"] { #expect(!Cookies.isToken(bad), "\(bad)") }
    }

    @Test func setCookieForms() {
        let now = 784_111_777
        #expect(Cookies.setCookie(name: "sid", value: "abc", expiresIn: nil, now: now, domain: nil, path: nil,
                                  secure: false, httpOnly: false) == "sid=abc")
        #expect(Cookies.setCookie(name: "sid", value: "abc", expiresIn: 3600, now: now, domain: "example.com",
                                  path: "/app", secure: true, httpOnly: true)
                == "sid=abc; Expires=Sun, 06 Nov 1994 09:49:37 GMT; Max-Age=3600; Domain=example.com; Path=/app; "
                + "Secure; HttpOnly")
        #expect(Cookies.setCookie(name: "sid", value: "", expiresIn: -1, now: now, domain: nil, path: "/",
                                  secure: false, httpOnly: true)
                == "sid=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; HttpOnly")
        #expect(Cookies.setCookie(name: "s", value: "v", expiresIn: 0, now: now, domain: "", path: "",
                                  secure: true, httpOnly: false) == "s=v; Secure")
    }

    @Test func setCookieCannotInject() {
        let line = Cookies.setCookie(name: "a\r\nX-Evil: 1", value: "v; Domain=evil.com\n", expiresIn: nil, now: 0,
                                     domain: "d.com\r\n", path: "/;Secure", secure: false, httpOnly: false)
        #expect(line == "aX-Evil: 1=v Domain=evil.com; Domain=d.com; Path=/Secure")
        #expect(!line.contains("\r") && !line.contains("\n"))
    }
}

/// How a request's file name is classified before any file is looked for.
@Suite struct FileNameTests {
    @Test func aMethodNameHasNoDot() {
        #expect(!HTTPSession.hasDot("info"))
        #expect(HTTPSession.hasDot("index.html") && HTTPSession.hasDot(".hidden") && HTTPSession.hasDot("a."))
        #expect(HTTPSession.hasDot("café.txt") && !HTTPSession.hasDot("café"))
        #expect(!HTTPSession.hasDot(".\u{301}"), "a dot followed by a combining mark is another character")
    }

    @Test func aNameEndingInFLVPlaysThatPublicationLive() {
        #expect(HTTPSession.liveName("cam.flv") == "cam")
        #expect(HTTPSession.liveName("Cam.FLV") == "Cam")
        #expect(HTTPSession.liveName("caméra.Flv") == "caméra")
        #expect(HTTPSession.liveName("a.b.flv") == "a.b")
        for name in [".flv", "flv", "cam.flv.txt", "cam.fl", "cam.f1v", "cam.flv\u{301}", "", "cam,flv"] {
            #expect(HTTPSession.liveName(name) == nil, "\(name.debugDescription)")
        }
    }
}

/// Status lines, cached by code.
@Suite struct StatusLineTests {
    @Test func everyCodeGetsItsLineTheSameTheSecondTime() {
        let heads = ResponseHeads()
        for _ in 0..<2 {
            #expect(heads.statusLine(200) == Array("HTTP/1.1 200 OK\r\n".utf8))
            #expect(heads.statusLine(404) == Array("HTTP/1.1 404 Not Found\r\n".utf8))
            #expect(String(decoding: heads.statusLine(99), as: UTF8.self).hasPrefix("HTTP/1.1 99 "))
            #expect(String(decoding: heads.statusLine(600), as: UTF8.self).hasPrefix("HTTP/1.1 600 "))
            #expect(String(decoding: heads.statusLine(Int.min), as: UTF8.self).hasPrefix("HTTP/1.1 -9223372036854775808 "))
        }
    }
}
