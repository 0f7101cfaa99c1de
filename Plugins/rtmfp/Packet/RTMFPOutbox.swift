import PluginABI

/// The datagrams of a flush, gathered into runs that the host sends in one call each (UDP
/// segmentation, ABI 1.6): a run goes to one address, and every datagram in it has the size of the
/// first but the last, which may be shorter.
struct RTMFPOutbox {
    /// Most datagrams in one run.
    static let maxDatagrams = 64

    /// The run: its datagrams back to back.
    private(set) var bytes: [UInt8] = []
    /// The size of its datagrams (the last may be shorter).
    private(set) var segmentSize = 0
    /// Where it goes.
    private(set) var address = mona_addr()
    private var count = 0
    /// A shorter datagram ended the run.
    private var complete = false

    var isEmpty: Bool { bytes.isEmpty }

    /// True when a datagram of `size` bytes to `address` may join the run (else send the run first).
    func accepts(_ size: Int, to address: mona_addr) -> Bool {
        isEmpty || (!complete && count < Self.maxDatagrams && size <= segmentSize && RTMFPAddresses.same(address, self.address))
    }

    /// Adds a datagram; `accepts` said it may join.
    mutating func append(_ datagram: [UInt8], to address: mona_addr) {
        if isEmpty {
            segmentSize = datagram.count
            self.address = address
        } else if datagram.count < segmentSize {
            complete = true
        }
        bytes.append(contentsOf: datagram)
        count += 1
    }

    /// Empties the outbox once its run is sent (the buffer is kept for the next).
    mutating func clear() {
        bytes.removeAll(keepingCapacity: true)
        segmentSize = 0
        count = 0
        complete = false
    }
}
