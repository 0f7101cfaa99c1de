import MonaValues

/// The externalizable AMF3 classes whose content is one AMF3 value, decoded as that value.
private let wrapperClasses: Set<String> = [
    "flex.messaging.io.ArrayCollection",
    "flex.messaging.io.ObjectProxy",
]

extension AMFReader {
    /// Reads one AMF3 value.
    mutating func readAMF3(depth: Int) throws(AMFError) -> AMFSlot {
        let start = offset
        let marker = try readU8()
        switch marker {
        case AMF3Marker.undefined, AMF3Marker.null:
            return .value(.nil)
        case AMF3Marker.false:
            return .value(.boolean(false))
        case AMF3Marker.true:
            return .value(.boolean(true))
        case AMF3Marker.integer:
            let bits = try readU29()
            // 29-bit two's complement.
            let value = bits & 0x1000_0000 != 0 ? Int(bits) - 0x2000_0000 : Int(bits)
            return .value(.number(Double(value)))
        case AMF3Marker.double:
            return .value(.number(try readDouble()))
        case AMF3Marker.string:
            return .value(.string(try readAMF3String()))
        case AMF3Marker.xmlDocument, AMF3Marker.xml:
            let header = try readU29()
            if header & 1 == 0 { return try objectReference(header, at: start) }
            let text = try readUTF8(Int(header >> 1))
            objects.append(.value(.string(text)))
            return .value(.string(text))
        case AMF3Marker.date:
            let header = try readU29()
            if header & 1 == 0 { return try objectReference(header, at: start) }
            let date = MonaValue.date(try readDouble())
            objects.append(.value(date))
            return .value(date)
        case AMF3Marker.byteArray:
            let header = try readU29()
            if header & 1 == 0 { return try objectReference(header, at: start) }
            let raw = MonaValue.bytes(try readBytes(Int(header >> 1)))
            objects.append(.value(raw))
            return .value(raw)
        case AMF3Marker.array:
            return try readAMF3Array(at: start, depth: depth)
        case AMF3Marker.object:
            return try readAMF3Object(at: start, depth: depth)
        case AMF3Marker.vectorInt, AMF3Marker.vectorUInt, AMF3Marker.vectorDouble,
             AMF3Marker.vectorObject:
            return try readAMF3Vector(marker, at: start, depth: depth)
        case AMF3Marker.dictionary:
            return try readAMF3Dictionary(at: start, depth: depth)
        default:
            throw .unknownMarker(marker, offset: start)
        }
    }

    /// Resolves an object reference header (low bit 0) read for the value at `start`.
    mutating func objectReference(_ header: UInt32, at start: Int) throws(AMFError) -> AMFSlot {
        let index = Int(header >> 1)
        guard index < objects.count else { throw .badObjectReference(index, offset: start) }
        switch objects[index] {
        case .node(let id):
            return .reference(id)
        case .value(let value):
            return .value(value)
        case .pending:
            throw .badObjectReference(index, offset: start)
        }
    }

    /// Reads an array after its marker: the associative part (key/value pairs up to an empty key)
    /// then the dense part. With an associative part it becomes a mixed array.
    mutating func readAMF3Array(at start: Int, depth: Int) throws(AMFError) -> AMFSlot {
        let header = try readU29()
        if header & 1 == 0 { return try objectReference(header, at: start) }
        let count = Int(header >> 1)
        let id = try openNode(.array, at: start, depth: depth)
        objects.append(.node(id))
        var fields: [(key: String, slot: AMFSlot)] = []
        while true {
            let key = try readAMF3String()
            if key.isEmpty { break }
            fields.append((key, try readAMF3(depth: depth + 1)))
        }
        try checkFits(count, size: 1)
        var items: [AMFSlot] = []
        items.reserveCapacity(Swift.min(count, Self.maxReservation))
        for _ in 0..<count {
            items.append(try readAMF3(depth: depth + 1))
        }
        nodes[id].items = items
        if !fields.isEmpty {
            nodes[id].kind = .mixed
            nodes[id].fields = fields
        }
        return .node(id)
    }

    /// Reads an object after its marker: traits (inline, referenced or externalizable), sealed
    /// member values, then dynamic members up to an empty key.
    mutating func readAMF3Object(at start: Int, depth: Int) throws(AMFError) -> AMFSlot {
        let header = try readU29()
        if header & 1 == 0 { return try objectReference(header, at: start) }
        let objectTraits: AMF3Traits
        if header & 2 == 0 {
            let index = Int(header >> 2)
            guard index < traits.count else { throw .badTraitsReference(index, offset: start) }
            objectTraits = traits[index]
        } else if header & 4 != 0 {
            objectTraits = AMF3Traits(
                className: try readAMF3String(), sealed: [], dynamic: false, externalizable: true)
            traits.append(objectTraits)
        } else {
            let sealedCount = Int(header >> 4)
            let className = try readAMF3String()
            try checkFits(sealedCount, size: 1)
            var names: [String] = []
            names.reserveCapacity(Swift.min(sealedCount, Self.maxReservation))
            for _ in 0..<sealedCount {
                names.append(try readAMF3String())
            }
            objectTraits = AMF3Traits(
                className: className, sealed: names, dynamic: header & 8 != 0, externalizable: false)
            traits.append(objectTraits)
        }
        if objectTraits.externalizable {
            return try readExternalizable(objectTraits.className, at: start, depth: depth)
        }
        let id = try openNode(.object(type: objectTraits.className), at: start, depth: depth)
        objects.append(.node(id))
        try checkFits(objectTraits.sealed.count, size: 1)
        var fields: [(key: String, slot: AMFSlot)] = []
        fields.reserveCapacity(objectTraits.sealed.count)
        for name in objectTraits.sealed {
            fields.append((name, try readAMF3(depth: depth + 1)))
        }
        if objectTraits.dynamic {
            while true {
                let key = try readAMF3String()
                if key.isEmpty { break }
                fields.append((key, try readAMF3(depth: depth + 1)))
            }
        }
        nodes[id].fields = fields
        return .node(id)
    }

    /// Reads the content of an externalizable object: one AMF3 value for the Flex wrapper classes
    /// (ArrayCollection, ObjectProxy), which stands for the whole object; any other class fails.
    mutating func readExternalizable(
        _ className: String, at start: Int, depth: Int
    ) throws(AMFError) -> AMFSlot {
        guard depth < AMF.maxDepth else { throw .tooDeep(offset: start) }
        guard wrapperClasses.contains(className) else {
            throw .unsupportedExternalizable(className, offset: start)
        }
        let entry = objects.count
        objects.append(.pending)
        let inner = try readAMF3(depth: depth + 1)
        switch inner {
        case .node(let id), .reference(let id):
            objects[entry] = .node(id)
        case .value(let value):
            objects[entry] = .value(value)
        }
        return inner
    }

    /// Reads a Vector.<int|uint|Number|Object> after its marker, as an array.
    mutating func readAMF3Vector(_ marker: UInt8, at start: Int, depth: Int) throws(AMFError) -> AMFSlot {
        let header = try readU29()
        if header & 1 == 0 { return try objectReference(header, at: start) }
        let count = Int(header >> 1)
        _ = try readU8()  // fixed-length flag
        let id = try openNode(.array, at: start, depth: depth)
        objects.append(.node(id))
        var items: [AMFSlot] = []
        switch marker {
        case AMF3Marker.vectorInt, AMF3Marker.vectorUInt:
            try checkFits(count, size: 4)
            items.reserveCapacity(count)
            for _ in 0..<count {
                let bits = try readU32()
                let number = marker == AMF3Marker.vectorInt
                    ? Double(Int32(bitPattern: bits)) : Double(bits)
                items.append(.value(.number(number)))
            }
        case AMF3Marker.vectorDouble:
            try checkFits(count, size: 8)
            items.reserveCapacity(count)
            for _ in 0..<count {
                items.append(.value(.number(try readDouble())))
            }
        default:
            _ = try readAMF3String()  // the element type name
            try checkFits(count, size: 1)
            items.reserveCapacity(Swift.min(count, Self.maxReservation))
            for _ in 0..<count {
                items.append(try readAMF3(depth: depth + 1))
            }
        }
        nodes[id].items = items
        return .node(id)
    }

    /// Reads a Dictionary after its marker: count, weak-keys flag, then (key, value) pairs.
    mutating func readAMF3Dictionary(at start: Int, depth: Int) throws(AMFError) -> AMFSlot {
        let header = try readU29()
        if header & 1 == 0 { return try objectReference(header, at: start) }
        let count = Int(header >> 1)
        let id = try openNode(.map(weakKeys: false), at: start, depth: depth)
        objects.append(.node(id))
        let weakKeys = try readU8() != 0
        try checkFits(count, size: 2)
        var entries: [(key: AMFSlot, value: AMFSlot)] = []
        entries.reserveCapacity(Swift.min(count, Self.maxReservation))
        for _ in 0..<count {
            let key = try readAMF3(depth: depth + 1)
            entries.append((key, try readAMF3(depth: depth + 1)))
        }
        nodes[id].kind = .map(weakKeys: weakKeys)
        nodes[id].entries = entries
        return .node(id)
    }

    /// Reads an AMF3 string without marker: a string-table reference or inline UTF-8 (non-empty
    /// inline strings join the table).
    mutating func readAMF3String() throws(AMFError) -> String {
        let start = offset
        let header = try readU29()
        if header & 1 == 0 {
            let index = Int(header >> 1)
            guard index < strings.count else { throw .badStringReference(index, offset: start) }
            return strings[index]
        }
        let length = Int(header >> 1)
        let text = try readUTF8(length)
        if length > 0 {
            strings.append(text)
        }
        return text
    }

    /// Reads an AMF3 U29: up to three 7-bit groups with a continuation bit, then 8 bits.
    mutating func readU29() throws(AMFError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<3 {
            let byte = try readU8()
            value = value << 7 | UInt32(byte & 0x7F)
            if byte & 0x80 == 0 { return value }
        }
        return value << 8 | UInt32(try readU8())
    }
}
