import Foundation

/// A blocking loopback socket with time-outs, for talking to the server like a plain client.
final class TestSocket {
    let fd: Int32
    private var pending: [UInt8] = []

    /// Connects over TCP to 127.0.0.1:port; every read waits at most `timeout` seconds.
    init(tcpPort port: UInt16, timeout: TimeInterval = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        setTimeout(timeout)
        var address = Self.loopback(port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 {
            let error = String(cString: strerror(errno))
            close(fd)
            throw TestFailure("connect to \(port): \(error)")
        }
    }

    /// A UDP socket bound to an ephemeral loopback port.
    init(udpTimeout timeout: TimeInterval = 5) {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        setTimeout(timeout)
    }

    /// A socket `TestListener` accepted.
    init(accepted fd: Int32, timeout: TimeInterval) {
        self.fd = fd
        setTimeout(timeout)
    }

    deinit { close(fd) }

    /// Binds this UDP socket to 127.0.0.1 on an ephemeral port; returns the port (0 on failure).
    func bindLoopback() -> UInt16 {
        var address = Self.loopback(0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        return bound ? UInt16(bigEndian: address.sin_port) : 0
    }

    /// The local port (of a connected or bound socket).
    var localPort: UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    /// A datagram and the port it came from (a loopback sender), or nil on time-out.
    func receiveDatagramAndPort() -> (bytes: [UInt8], port: UInt16)? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var from = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let count = withUnsafeMutablePointer(to: &from) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &length) }
        }
        return count < 0 ? nil : (Array(buffer[0..<count]), UInt16(bigEndian: from.sin_port))
    }

    static func loopback(_ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    func setTimeout(_ seconds: TimeInterval) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { throw TestFailure("send: \(String(cString: strerror(errno)))") }
            offset += sent
        }
    }

    func sendDatagram(_ bytes: [UInt8], port: UInt16) {
        var address = Self.loopback(port)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    func receiveDatagram() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count < 0 ? nil : Array(buffer[0..<count])
    }

    /// Reads what is available (waiting up to the time-out for something); nil on time-out, [] on EOF.
    func receiveSome() -> [UInt8]? {
        if !pending.isEmpty {
            defer { pending = [] }
            return pending
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &buffer, buffer.count, 0)
        if count < 0 { return errno == ECONNRESET ? [] : nil } // a reset ends the stream too
        return Array(buffer[0..<count])
    }

    /// Reads exactly `count` bytes, or throws on time-out/EOF.
    func receive(count: Int) throws -> [UInt8] {
        guard count >= 0 else { throw TestFailure("receive of a negative count (\(count))") }
        var result: [UInt8] = []
        while result.count < count {
            guard let chunk = receiveSome() else { throw TestFailure("time-out after \(result.count) of \(count) bytes") }
            if chunk.isEmpty { throw TestFailure("EOF after \(result.count) of \(count) bytes") }
            result += chunk
        }
        if result.count > count {
            pending = Array(result[count...])
            result.removeLast(result.count - count)
        }
        return result
    }

    /// Reads one line without its newline, or throws on time-out/EOF.
    func readLine() throws -> String {
        var line: [UInt8] = []
        while true {
            let byte = try receive(count: 1)[0]
            if byte == 10 { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
    }

    /// True when the peer closed (EOF) within the time-out, after discarding any bytes.
    func waitForEOF() -> Bool {
        while let chunk = receiveSome() {
            if chunk.isEmpty { return true }
        }
        return false
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }
}

/// A listening loopback TCP socket on a port the system picks; `accept` waits at most the time-out.
final class TestListener {
    let fd: Int32
    let port: UInt16
    private let timeout: TimeInterval

    init(timeout: TimeInterval = 5) throws {
        self.timeout = timeout
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        fd = descriptor
        var address = TestSocket.loopback(0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 16) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw TestFailure("cannot listen: \(String(cString: strerror(errno)))")
        }
        port = UInt16(bigEndian: address.sin_port)
        var value = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// The next connection, or a failure after the time-out.
    func accept() throws -> TestSocket {
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { throw TestFailure("accept: \(String(cString: strerror(errno)))") }
        return TestSocket(accepted: client, timeout: timeout)
    }
}
