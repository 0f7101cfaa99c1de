import PluginABI

/// TCP and UDP as the plugin sees them: listeners it opened, connections the test makes, bytes both
/// ways, back-pressure, half-close and handoff.
extension FakeHost {
    /// A listening socket the plugin opened (`tcp_listen`).
    public struct Listener {
        public let handle: mona_handle
        public let host: String
        public let port: UInt16
        let context: UnsafeMutableRawPointer?
    }

    /// A bound UDP socket of the plugin (`udp_bind`).
    public final class UDPEndpoint {
        public let handle: mona_handle
        public let port: UInt16
        let context: UnsafeMutableRawPointer?
        /// Datagrams the plugin sent, in order.
        public internal(set) var sent: [(to: mona_addr, bytes: [UInt8])] = []
        /// Datagrams per udp_send_segments call, in order (udp_send adds none).
        public internal(set) var runs: [Int] = []
        public internal(set) var closed = false

        init(handle: mona_handle, port: UInt16, context: UnsafeMutableRawPointer?) {
            self.handle = handle
            self.port = port
            self.context = context
        }
    }

    /// One connection: what the plugin sent on it and what it did with it.
    public final class Connection {
        public let handle: mona_handle
        public let peer: mona_addr
        public let local: mona_addr
        /// The session context the plugin returned.
        public internal(set) var session: UnsafeMutableRawPointer?
        /// Bytes the plugin sent and the test did not take yet (`takeOutput`).
        public internal(set) var output: [UInt8] = []
        /// How the plugin closed it (MONA_CLOSE_*), if it did.
        public internal(set) var closedHow: Int32?
        /// False while the plugin paused reading (`tcp_set_reading(0)`).
        public internal(set) var reading = true
        /// True once the plugin heard tcp_closed (or handed the connection over).
        public internal(set) var ended = false
        /// The reason tcp_closed gave.
        public internal(set) var endReason: Int32?
        /// Where the plugin handed the connection (`tcp_handoff`): section, bytes, request (MVS).
        public internal(set) var handoff: (section: String, bytes: [UInt8], request: [UInt8])?
        /// While set, sends are reported queued (tcp_send returns this many bytes more) until `drain`.
        public var blocked = false
        /// Bytes the plugin left unconsumed (passed again with the next bytes, as the host does).
        public internal(set) var unconsumed: [UInt8] = []
        var queued = 0
        var wantsWritable = false

        init(handle: mona_handle, peer: mona_addr, local: mona_addr) {
            self.handle = handle
            self.peer = peer
            self.local = local
        }

        /// The output as text (for text protocols).
        public var outputText: String { String(decoding: output, as: UTF8.self) }
    }

    // MARK: driving TCP

    /// A peer connects to the plugin's first listener (or `listener`): tcp_accepted. Nil when the
    /// plugin refused it.
    @discardableResult
    public func connect(listener: mona_handle? = nil, peer: mona_addr = .loopback(50_000)) -> Connection? {
        guard let accepted = entry.tcp_accepted,
              let chosen = listener.flatMap({ listeners[$0] }) ?? listeners.values.sorted(by: { $0.handle < $1.handle }).first
        else { return nil }
        let connection = Connection(handle: makeHandle(), peer: peer, local: .loopback(chosen.port))
        connections[connection.handle] = connection
        var peerAddress = connection.peer
        var localAddress = connection.local
        connection.session = drive {
            accepted(instance, chosen.context, connection.handle, &peerAddress, &localAddress)
        }
        guard connection.session != nil else {
            connection.ended = true
            return nil
        }
        return connection
    }

    /// Another plugin hands a connection over (tcp_adopted with `request`, then `bytes` as tcp_data).
    @discardableResult
    public func adopt(request: [UInt8], bytes: [UInt8] = [], peer: mona_addr = .loopback(50_000),
                      localPort: UInt16 = 80) -> Connection? {
        guard let adopted = entry.tcp_adopted else { return nil }
        let connection = Connection(handle: makeHandle(), peer: peer, local: .loopback(localPort))
        connections[connection.handle] = connection
        var peerAddress = connection.peer
        var localAddress = connection.local
        connection.session = drive {
            request.withUnsafeBufferPointer {
                adopted(instance, connection.handle, &peerAddress, &localAddress, $0.baseAddress, $0.count)
            }
        }
        guard connection.session != nil else {
            connection.ended = true
            return nil
        }
        if !bytes.isEmpty { receive(connection, bytes) }
        return connection
    }

    /// Bytes from the peer: tcp_data with what the plugin left unconsumed before them, as the host does.
    public func receive(_ connection: Connection, _ bytes: [UInt8]) {
        guard !connection.ended, connection.closedHow == nil || connection.closedHow == MONA_CLOSE_WRITE,
              let onData = entry.tcp_data else { return }
        let data = connection.unconsumed + bytes
        connection.unconsumed = []
        let consumed = drive {
            data.withUnsafeBufferPointer { onData(instance, connection.session, connection.handle, $0.baseAddress, $0.count) }
        }
        guard !connection.ended, connection.handoff == nil else { return }
        if consumed < data.count { connection.unconsumed = Array(data[min(consumed, data.count)...]) }
    }

    /// Text from the peer.
    public func receive(_ connection: Connection, _ text: String) { receive(connection, Array(text.utf8)) }

    /// Everything the plugin sent since the last call, taken.
    public func takeOutput(_ connection: Connection) -> [UInt8] {
        defer { connection.output = [] }
        return connection.output
    }

    /// The peer read everything queued: the plugin hears tcp_writable if a send had been queued.
    public func drain(_ connection: Connection) {
        connection.blocked = false
        connection.queued = 0
        guard connection.wantsWritable, !connection.ended else { return }
        connection.wantsWritable = false
        drive { entry.tcp_writable?(instance, connection.session, connection.handle) }
    }

    /// The peer half-closed: tcp_eof (or, without it, a graceful close as the host does).
    public func peerFinished(_ connection: Connection) {
        guard !connection.ended else { return }
        if let eof = entry.tcp_eof {
            drive { eof(instance, connection.session, connection.handle) }
        } else {
            close(connection, how: MONA_CLOSE_GRACEFUL)
            deliverDeferred()
        }
    }

    /// The connection ends (the peer closed, an error, the server stops): tcp_closed with `reason`.
    public func end(_ connection: Connection, reason: Int32 = MONA_CLOSED_BY_PEER) {
        guard !connection.ended else { return }
        connection.ended = true
        connection.endReason = reason
        drive { entry.tcp_closed?(instance, connection.session, connection.handle, reason) }
    }

    /// A datagram reaches the plugin's UDP socket `udp` (its first one by default).
    public func datagram(_ bytes: [UInt8], from: mona_addr = .loopback(50_000), to udp: mona_handle? = nil) {
        guard let onDatagram = entry.udp_datagram,
              let socket = udp.flatMap({ udpSockets[$0] }) ?? udpSockets.values.sorted(by: { $0.handle < $1.handle }).first
        else { return }
        var sender = from
        drive {
            bytes.withUnsafeBufferPointer { onDatagram(instance, socket.context, socket.handle, &sender, $0.baseAddress, $0.count) }
        }
    }

    // MARK: host side (called from the table)

    func send(_ connection: Connection, _ bytes: UnsafeRawBufferPointer) -> Int64 {
        guard !connection.ended, connection.closedHow == nil else { return Int64(MONA_E_CLOSED) }
        connection.output.append(contentsOf: bytes)
        if connection.blocked { connection.queued += bytes.count }
        guard connection.queued > 0 else { return 0 }
        connection.wantsWritable = true
        return Int64(connection.queued)
    }

    func close(_ connection: Connection, how: Int32) {
        guard !connection.ended else { return }
        if connection.closedHow == nil || how != MONA_CLOSE_WRITE { connection.closedHow = how }
        guard how != MONA_CLOSE_WRITE else { return } // a half close: tcp_closed waits for the peer
        deferred.append { [unowned self] in
            guard !connection.ended else { return }
            connection.ended = true
            connection.endReason = MONA_CLOSED_BY_PLUGIN
            entry.tcp_closed?(instance, connection.session, connection.handle, MONA_CLOSED_BY_PLUGIN)
        }
    }
}
