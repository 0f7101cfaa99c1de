import Glibc
@testable import MonaPersistence

/// The `data` loader on what it reads from disk: a folder name (first line of the input, decoded as a
/// key) holding one value file (the rest), named by the value's MD5 or, when the first byte is odd, not
/// (a corrupt file). The store loads the tree, which is then emptied.
func fuzzDataLoader(_ input: [UInt8]) {
    let split = input.firstIndex(of: 0x0A) ?? input.endIndex
    let name = Array(input[..<split])
    let value = Array(input[min(split + 1, input.endIndex)...])
    _ = KeyCodec.decode(name)
    guard !name.isEmpty, name.count < 200, !name.contains(0), !name.contains(0x2F), name != [0x2E], name != [0x2E, 0x2E]
    else { return }
    let root = FuzzDataRoot.path
    let folder = root + "/" + String(decoding: name, as: UTF8.self)
    guard withCName(Array(folder.utf8), { mkdir($0, 0o700) }) == 0 else { return }
    var fileName = Array(MD5.hex(value).utf8)
    if (input.first ?? 0) & 1 == 1 { fileName[0] = fileName[0] == 0x30 ? 0x31 : 0x30 }
    let file = folder + "/" + String(decoding: fileName, as: UTF8.self)
    let fd = withCName(Array(file.utf8)) { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o600) }
    if fd >= 0 {
        _ = value.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
    _ = PersistentStore(root: root, flushInterval: 0) { _, _ in }.load()
    var budget = CrashBudget()
    if let top = try? Directory.openRoot(root, create: false, budget: &budget) {
        for entry in (try? top.list()) ?? [] {
            try? top.removeTree(entry.name, budget: &budget)
        }
    }
}

/// The scratch data root of this fuzz process (under $TMPDIR or /tmp, one per process).
enum FuzzDataRoot {
    static let path: String = {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        let path = "\(base)/mona-fuzz-data-\(getpid())"
        mkdir(path, 0o700)
        return path
    }()
}
