/// AAC in RTP per RFC 3640 mode AAC-hbr (sizelength 13, indexlength 3, indexdeltalength 3): one access
/// unit per packet, fragmented across packets when it does not fit; and the reverse for a recorder,
/// with the sizes its SDP announced.
enum AACPayload {
    /// The payloads of one raw AAC frame (the last one gets the marker).
    static func payloads(_ frame: UnsafeRawBufferPointer, maxPayload: Int) -> [[UInt8]] {
        let header: [UInt8] = [0, 16, UInt8((frame.count >> 5) & 0xFF), UInt8((frame.count & 0x1F) << 3)]
        let room = maxPayload - header.count
        var payloads: [[UInt8]] = []
        var offset = 0
        repeat {
            let end = min(frame.count, offset + room)
            payloads.append(header + frame[offset..<end])
            offset = end
        } while offset < frame.count
        return payloads
    }

    /// The access units of a received payload (`sizeLength`/`indexLength` bits per AU header), or nil
    /// when the headers do not match the data. A fragment (an AU larger than the packet) comes back
    /// whole as `partial` with its announced size, for the depacketizer to complete.
    static func units(_ payload: UnsafeRawBufferPointer, sizeLength: Int, indexLength: Int)
        -> (units: [[UInt8]], announced: Int?)?
    {
        guard payload.count >= 2, sizeLength > 0 else { return nil }
        let headerBits = Int(payload[0]) << 8 | Int(payload[1])
        let headerBytes = (headerBits + 7) / 8
        guard 2 + headerBytes <= payload.count else { return nil }
        var reader = BitReader(Array(payload[2..<2 + headerBytes]))
        var sizes: [Int] = []
        var bitsRead = 0
        while bitsRead + sizeLength <= headerBits {
            sizes.append(reader.read(sizeLength))
            _ = reader.read(indexLength) // index (first) or index delta: always 0 for in-order units
            bitsRead += sizeLength + indexLength
        }
        var offset = 2 + headerBytes
        var units: [[UInt8]] = []
        for size in sizes {
            if offset + size > payload.count {
                guard sizes.count == 1 else { return nil }
                return ([Array(payload[offset...])], size)
            }
            units.append(Array(payload[offset..<offset + size]))
            offset += size
        }
        return (units, nil)
    }
}
