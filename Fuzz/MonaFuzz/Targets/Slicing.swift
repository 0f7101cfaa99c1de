/// Cuts a fuzz input into the pieces a streaming parser is fed: the first byte sets the piece size
/// (1…256 bytes), so the fuzzer explores splits anywhere, the rest is the stream.
struct FuzzSlices: Sequence {
    let stream: ArraySlice<UInt8>
    let pieceSize: Int

    init(_ input: [UInt8]) {
        pieceSize = Int(input.first ?? 0) + 1
        stream = input.dropFirst()
    }

    func makeIterator() -> AnyIterator<ArraySlice<UInt8>> {
        var start = stream.startIndex
        return AnyIterator {
            guard start < stream.endIndex else { return nil }
            let end = Swift.min(start + pieceSize, stream.endIndex)
            defer { start = end }
            return stream[start..<end]
        }
    }
}
