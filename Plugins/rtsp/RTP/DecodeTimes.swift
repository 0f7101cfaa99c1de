/// Decode times for video frames that arrive in decode order with presentation times only (RTP carries
/// no DTS), as FLV needs them (a monotonic time and a composition offset): a frame waits until `window`
/// frames follow it, then takes the smallest presentation time not taken yet, moved back by the
/// reordering the first frames showed (0 without B-frames). Costs `window` frames of latency.
struct DecodeTimes<Item> {
    /// One frame out: its decode and presentation times (ms) and what came with it.
    struct Timed {
        let dts: Int64
        let pts: Int64
        let item: Item
    }

    let window: Int
    private var pending: [(pts: Int64, item: Item)] = []
    /// Presentation times received and not yet taken as a decode time, sorted.
    private var slots: [Int64] = []
    private var shift: Int64?
    private var last: Int64?

    init(window: Int) { self.window = window }

    /// The frames this one lets out, in decode order.
    mutating func push(pts: Int64, _ item: Item) -> [Timed] {
        pending.append((pts, item))
        slots.insert(pts, at: slots.firstIndex { $0 > pts } ?? slots.count)
        guard pending.count > window else { return [] }
        // The first time: how far the frames' presentation order runs ahead of their sorted order.
        let shift = self.shift ?? zip(slots, pending).map { $0 - $1.pts }.max().map { max(0, $0) } ?? 0
        self.shift = shift
        var out: [Timed] = []
        while pending.count > window {
            let front = pending.removeFirst()
            var dts = min(slots.removeFirst() - shift, front.pts)
            if let last, dts <= last { dts = last + 1 } // deeper reordering than the first frames showed
            last = dts
            out.append(Timed(dts: dts, pts: max(front.pts, dts), item: front.item))
        }
        return out
    }
}
