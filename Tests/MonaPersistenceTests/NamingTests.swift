import Testing

@testable import MonaPersistence

@Test func md5RFC1321Suite() {
    #expect(md5("") == "d41d8cd98f00b204e9800998ecf8427e")
    #expect(md5("a") == "0cc175b9c0f1b6a831c399e269772661")
    #expect(md5("abc") == "900150983cd24fb0d6963f7d28e17f72")
    #expect(md5("message digest") == "f96b697d7cb7938d525a2f31aaf161d0")
    #expect(md5("abcdefghijklmnopqrstuvwxyz") == "c3fcd3d76192e4007dfb496cca67e13b")
    #expect(md5("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == "d174ab98d277d9f5a5611c2c9f419d9f")
    #expect(md5(String(repeating: "1234567890", count: 8)) == "57edf4a22be3c955ac49da2e2107b67a")
}

@Test func md5MonaServerFixtures() {
    #expect(md5("true") == "b326b5062b2f0e69046810717534cb09")
    #expect(md5("1") == "c4ca4238a0b923820dcc509a6f75849b")
    let empty: [UInt8] = [0xD4, 0x1D, 0x8C, 0xD9, 0x8F, 0x00, 0xB2, 0x04,
                          0xE9, 0x80, 0x09, 0x98, 0xEC, 0xF8, 0x42, 0x7E]
    #expect(MD5.digest([]) == empty)
}

@Test func md5PaddingBoundaries() {
    let expected: [Int: String] = [
        55: "ef1772b6dff9a122358552954ad0df65", 56: "3b0c8ac703f828b04c6c197006d17218",
        57: "652b906d60af96844ebd21b674f35e93", 63: "b06521f39153d618550606be297466d5",
        64: "014842d480b571495a4a0363793f7367", 65: "c743a45e0d2e6a95cb859adae0248435",
        119: "8a7bd0732ed6a28ce75f6dabc90e1613", 120: "5f61c0ccad4cac44c75ff505e1f1e537",
        128: "e510683b3f5ffe4093d021808bc6ff70",
    ]
    for (length, digest) in expected {
        #expect(MD5.hex([UInt8](repeating: 0x61, count: length)) == digest, "length \(length)")
    }
    var allBytes: [UInt8] = []
    for _ in 0..<10 { allBytes += (0...255).map { UInt8($0) } }
    #expect(MD5.hex(allBytes) == "9aec5fa312feff7a1d15b135181ffe04")
    #expect(MD5.hex([UInt8](repeating: 0x61, count: 1_000_000)) == "7707d6ae4e027c70eea2a935c2296f21")
}

@Test func digestNames() {
    #expect(MD5.isDigestName(bytes("b326b5062b2f0e69046810717534cb09")))
    #expect(!MD5.isDigestName(bytes("B326b5062b2f0e69046810717534cb09")))  // uppercase is not 1.x's
    #expect(!MD5.isDigestName(bytes("b326b5062b2f0e69046810717534cb0")))
    #expect(!MD5.isDigestName(bytes("b326b5062b2f0e69046810717534cb090")))
    #expect(!MD5.isDigestName(bytes("g326b5062b2f0e69046810717534cb09")))
    #expect(!MD5.isDigestName(bytes(".mona-tmp-b326b5062b2f0e69046810717534cb09")))
}

@Test func keyEncoding() {
    let hex = "0123456789abcdef0123456789abcdef"
    for ordinary in ["init", "count", "5", "a b", "été", "A23456789abcdef0123456789abcdef0", ".hidden", "a%"] {
        #expect(KeyCodec.encode(ordinary) == bytes(ordinary), "\(ordinary)")
    }
    let cases: [(String, String)] = [
        ("", "%"), (".", "%."), ("..", "%.."), ("a/b", "%a%2Fb"), ("/", "%%2F"), ("a\u{0}b", "%a%00b"),
        (hex, "%" + hex), ("%", "%%25"), ("%41", "%%2541"), (".mona-tmp-x", "%.mona-tmp-x"),
        (".mona-del-x", "%.mona-del-x"), ("../..", "%..%2F.."),
    ]
    for (key, name) in cases {
        let encoded = KeyCodec.encode(key)
        #expect(encoded == bytes(name), "\(key)")
        #expect(!encoded.contains(0x2F) && !encoded.contains(0))
        #expect(encoded != bytes(".") && encoded != bytes("..") && !MD5.isDigestName(encoded))
        let decoded = KeyCodec.decode(encoded)
        #expect(decoded?.key == key && decoded?.canonical == true, "\(key)")
    }
    // Names this writer never makes are 1.x keys standing for themselves, to be renamed.
    for legacy in ["%foo", "%2F", hex, "%zz"] {
        let decoded = KeyCodec.decode(bytes(legacy))
        #expect(decoded?.key == legacy && decoded?.canonical == false, "\(legacy)")
    }
    #expect(KeyCodec.decode([0x61, 0xFF]) == nil)  // not UTF-8: foreign
}
