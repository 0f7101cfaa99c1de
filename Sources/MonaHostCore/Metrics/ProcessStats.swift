#if canImport(Glibc)
import Glibc
#endif

/// What the process costs the system, read when the metrics are rendered: its resident memory
/// (/proc/self/statm), its CPU time (getrusage) and the clocks.
enum ProcessStats {
    /// Resident memory in bytes (the second field of /proc/self/statm, in pages), or nil off Linux.
    static func residentBytes() -> UInt64? {
        let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let fields = buffer[..<count].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = UInt64(String(decoding: fields[1], as: UTF8.self)) else { return nil }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// User and system CPU time of every thread, in seconds.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func microseconds(_ time: timeval) -> Int { time.tv_sec * 1_000_000 + time.tv_usec }
        return Double(microseconds(usage.ru_utime) + microseconds(usage.ru_stime)) / 1e6 // one division: no 0.0273600000002
    }

    /// The wall clock, in seconds since 1970.
    static func wallSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// The monotonic clock, in nanoseconds (a vDSO call: no system call).
    static func monotonicNs() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
