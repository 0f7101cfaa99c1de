// Opening what the host confined, without a window for a swapped symbolic link.
//
// client_read_file checks that a path stays inside www/ and answers its real path (no symbolic link in
// it, no "." or ".."). Opening that path by name later would follow whatever stands there by then: a
// symbolic link swapped in after the check could lead out of www/. So the path is opened one component
// at a time from "/", each relative to the descriptor of the folder before it, and none may be a
// symbolic link (O_NOFOLLOW, a folder checked by fstat): what is opened is exactly what was checked, or
// nothing. Runs on the host's blocking pool (several system calls).

#if canImport(Glibc)
import Glibc
#endif

/// Opens a path the host confined to www/ without following any symbolic link in it.
enum ConfinedOpen {
    /// Linux's O_PATH: a descriptor that only locates a folder (search permission is enough).
    private static let pathOnly: Int32 = 0o10000000

    /// Opens `path` (absolute) with `flags` (O_RDONLY for a file, O_RDONLY | O_DIRECTORY for a folder):
    /// the descriptor, or −errno (ELOOP or ENOTDIR when a component is a symbolic link).
    static func open(_ path: String, flags: Int32) -> Int32 {
        guard path.hasPrefix("/"), !path.utf8.contains(0) else { return -ENOENT }
        let components = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !components.contains(where: { $0 == "." || $0 == ".." }) else { return -ENOENT }
        var folder = Glibc.open("/", pathOnly | O_DIRECTORY | O_CLOEXEC)
        guard folder >= 0 else { return -errno }
        for (index, name) in components.enumerated() {
            let last = index == components.count - 1
            let next = openat(folder, name, (last ? flags : pathOnly | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC)
            let failure = errno
            Glibc.close(folder)
            guard next >= 0 else { return -failure }
            if !last {
                // O_PATH | O_NOFOLLOW opens a symbolic link itself: only a real folder goes on.
                var info = stat()
                guard fstat(next, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                    Glibc.close(next)
                    return -ENOTDIR
                }
            }
            folder = next
        }
        return folder
    }
}
