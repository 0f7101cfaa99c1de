import MonaValues

/// Resolves `.reference(n)` for the writers that have no references of their own (JSON, XML-RPC,
/// Query): like 1.x, a reference to a closed value writes that value again in full, and a reference
/// to a value still being written (a cycle) is written as null with a warning.
///
/// Complex values are numbered from 0 in stream order (the order `MVSWriter` writes them: array
/// items, object fields, mixed dense part then fields, map key then value), over the whole value
/// list. A complex value's descendants are numbered consecutively after it, so the number of any
/// child follows from its parent's number and the subtree sizes computed up front; writers may thus
/// visit children in another order (JSON writes a mixed's fields first) and still resolve correctly.
struct CodecValueGraph {
    /// The result of resolving a reference.
    enum Resolution {
        /// Write this complex value (numbered `index`) again in full.
        case value(MonaValue, index: Int)
        /// The value is still open: a cycle.
        case cyclic
        /// Not a complex value opened before the reference.
        case invalid
        /// Repeated values have already been expanded more than `maxExpandedNodes` times.
        case tooMany
    }

    /// Complex values written again through references, in total, before refusing (exponential
    /// blow-up of shared tables: each level referencing the previous one twice).
    static let maxExpandedNodes = 1 << 20

    private var nodes: [MonaValue] = []
    /// The number of complex values in the subtree of each node, itself included.
    private var sizes: [Int] = []
    private var open: [Bool] = []
    private var expanded = 0
    /// The stream slot of each top-level value (see `slots(of:at:)`).
    private(set) var topSlots: [Int] = []

    /// An empty graph (a placeholder while a writer borrows another one).
    init() {}

    /// Numbers every complex value of `values`.
    init(_ values: [MonaValue]) {
        topSlots.reserveCapacity(values.count)
        for value in values {
            topSlots.append(nodes.count)
            number(value)
        }
        open = [Bool](repeating: false, count: nodes.count)
    }

    /// Numbers the complex values under `root` in stream order, without recursion.
    private mutating func number(_ root: MonaValue) {
        enum Step {
            case visit(MonaValue)
            case finish(Int)
        }
        var stack: [Step] = [.visit(root)]
        while let step = stack.popLast() {
            switch step {
            case .finish(let index):
                sizes[index] = nodes.count - index
            case .visit(let value):
                guard value.isComplex else { continue }
                let index = nodes.count
                nodes.append(value)
                sizes.append(1)
                stack.append(.finish(index))
                for child in Self.children(of: value).reversed() { stack.append(.visit(child)) }
            }
        }
    }

    /// The direct children of a complex value in stream order (map: key, value, key, value…).
    static func children(of value: MonaValue) -> [MonaValue] {
        switch value {
        case .array(let items):
            return items
        case .object(_, let fields):
            return fields.map(\.value)
        case .mixed(let dense, let fields):
            return dense + fields.map(\.value)
        case .map(_, let entries):
            var children: [MonaValue] = []
            children.reserveCapacity(entries.count * 2)
            for entry in entries {
                children.append(entry.key)
                children.append(entry.value)
            }
            return children
        default:
            return []
        }
    }

    /// The slot of each child of the complex value numbered `index`, in `children(of:)` order.
    ///
    /// A slot is the number of complex values opened before that point of the stream: the number
    /// of the child when it is complex, the bound a reference must stay under otherwise.
    func slots(of value: MonaValue, at index: Int) -> [Int] {
        var next = index + 1
        var result: [Int] = []
        for child in Self.children(of: value) {
            result.append(next)
            if child.isComplex, next < sizes.count { next += sizes[next] }
        }
        return result
    }

    /// Marks the complex value numbered `index` as being written.
    mutating func enter(_ index: Int) {
        if index < open.count { open[index] = true }
    }

    /// Marks the complex value numbered `index` as written.
    mutating func leave(_ index: Int) {
        if index < open.count { open[index] = false }
    }

    /// Resolves `.reference(reference)` found at stream slot `slot`.
    mutating func resolve(_ reference: Int, slot: Int) -> Resolution {
        guard reference >= 0, reference < slot, reference < nodes.count else { return .invalid }
        if open[reference] { return .cyclic }
        expanded += sizes[reference]
        guard expanded <= Self.maxExpandedNodes else { return .tooMany }
        return .value(nodes[reference], index: reference)
    }
}

/// The warnings shared by the writers without references or maps of their own.
enum CodecWarning {
    static func map(_ format: String) -> String {
        "\(format) doesn't support map type, a object will be written rather"
    }

    static func cyclic(_ format: String) -> String {
        "\(format) doesn't support fully cyclic referencing"
    }

    static func invalidReference(_ format: String) -> String {
        "\(format): reference to a value not opened before it, null written"
    }

    static func tooManyReferences(_ format: String) -> String {
        "\(format): repeated values expanded more than \(CodecValueGraph.maxExpandedNodes) times, null written"
    }

    static func tooDeep(_ format: String) -> String {
        "\(format): values nested deeper than \(CodecLimits.maxDepth), null written"
    }

    static func badDate(_ format: String) -> String {
        "\(format): date out of range, null written"
    }

    /// The warning for a reference that cannot be written in full.
    static func reference(_ resolution: CodecValueGraph.Resolution, _ format: String) -> String {
        switch resolution {
        case .cyclic: return cyclic(format)
        case .tooMany: return tooManyReferences(format)
        default: return invalidReference(format)
        }
    }
}
