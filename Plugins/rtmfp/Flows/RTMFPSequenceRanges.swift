/// A bounded set of sequence numbers kept as ascending, disjoint, non-adjacent closed ranges: what a
/// receive flow holds above its cumulative acknowledgement (the ranges of its 0x51 acknowledgements).
struct RTMFPSequenceRanges: Equatable, Sendable {
    /// The most ranges held; an insertion that would need one more is refused.
    let maxRanges: Int
    private(set) var ranges: [ClosedRange<UInt64>] = []

    init(maxRanges: Int) { self.maxRanges = max(1, maxRanges) }

    var isEmpty: Bool { ranges.isEmpty }
    var first: ClosedRange<UInt64>? { ranges.first }

    func contains(_ sequenceNumber: UInt64) -> Bool {
        let index = firstIndex(endingAtOrAfter: sequenceNumber)
        return index < ranges.count && ranges[index].lowerBound <= sequenceNumber
    }

    /// Adds `sequenceNumber` (below `UInt64.max`); false when it is already there or when it would need a
    /// range beyond `maxRanges`.
    mutating func insert(_ sequenceNumber: UInt64) -> Bool {
        let index = firstIndex(endingAtOrAfter: sequenceNumber)
        if index < ranges.count, ranges[index].lowerBound <= sequenceNumber { return false }
        let joinsPrevious = index > 0 && ranges[index - 1].upperBound + 1 == sequenceNumber
        let joinsNext = index < ranges.count && ranges[index].lowerBound == sequenceNumber + 1
        switch (joinsPrevious, joinsNext) {
        case (true, true):
            ranges[index - 1] = ranges[index - 1].lowerBound...ranges[index].upperBound
            ranges.remove(at: index)
        case (true, false):
            ranges[index - 1] = ranges[index - 1].lowerBound...sequenceNumber
        case (false, true):
            ranges[index] = sequenceNumber...ranges[index].upperBound
        case (false, false):
            guard ranges.count < maxRanges else { return false }
            ranges.insert(sequenceNumber...sequenceNumber, at: index)
        }
        return true
    }

    /// Removes and returns the lowest range.
    mutating func removeFirst() -> ClosedRange<UInt64>? {
        ranges.isEmpty ? nil : ranges.removeFirst()
    }

    mutating func removeAll() { ranges.removeAll() }

    /// The index of the first range whose upper bound is at least `sequenceNumber` (binary search).
    private func firstIndex(endingAtOrAfter sequenceNumber: UInt64) -> Int {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < sequenceNumber { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
