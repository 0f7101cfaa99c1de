import MonaValues

extension AMFWriter {
    /// Appends one AMF3 value (no AVM+ marker).
    mutating func writeAMF3(_ value: MonaValue) {
        switch value {
        case .nil:
            bytes.append(AMF3Marker.null)
        case .boolean(let flag):
            bytes.append(flag ? AMF3Marker.true : AMF3Marker.false)
        case .number(let number):
            if let integer = Self.amf3Integer(number) {
                bytes.append(AMF3Marker.integer)
                writeU29(Int(integer))
            } else {
                bytes.append(AMF3Marker.double)
                writeDouble(number)
            }
        case .string(let text):
            bytes.append(AMF3Marker.string)
            writeAMF3String(text)
        case .bytes(let raw):
            guard raw.count <= AMF3Limits.maxLength else {
                warn(AMFWarning.tooLong)
                bytes.append(AMF3Marker.null)
                return
            }
            bytes.append(AMF3Marker.byteArray)
            amf3ObjectCount += 1
            writeU29(raw.count << 1 | 1)
            bytes.append(contentsOf: raw)
        case .date(let milliseconds):
            bytes.append(AMF3Marker.date)
            amf3ObjectCount += 1
            writeU29(1)
            writeDouble(milliseconds)
        case .array(let items):
            let index = open()
            guard beginAMF3(index, marker: AMF3Marker.array, count: items.count) else { return }
            writeU29(items.count << 1 | 1)
            bytes.append(0x01)  // no associative part
            for item in items { writeAMF3(item) }
            close(index)
        case .object(let type, let fields):
            // Always dynamic, with inline traits and no sealed member: U29 0b1011.
            let index = open()
            guard beginAMF3(index, marker: AMF3Marker.object, count: 0) else { return }
            bytes.append(0x0B)
            writeAMF3String(type)
            writeAMF3Fields(fields)
            close(index)
        case .mixed(let dense, let fields):
            // AMF3 writes the associative part first, MVS numbers the dense part first.
            let index = open()
            guard beginAMF3(index, marker: AMF3Marker.array, count: dense.count) else { return }
            writeU29(dense.count << 1 | 1)
            let denseStart = cursor
            var fieldsStart = denseStart
            for item in dense where item.isComplex {
                fieldsStart += subtreeSizes[fieldsStart]
            }
            cursor = fieldsStart
            writeAMF3Fields(fields)
            cursor = denseStart
            for item in dense { writeAMF3(item) }
            close(index)
        case .map(let weakKeys, let entries):
            let index = open()
            guard beginAMF3(index, marker: AMF3Marker.dictionary, count: entries.count) else { return }
            writeU29(entries.count << 1 | 1)
            bytes.append(weakKeys ? 0x01 : 0x00)
            for entry in entries {
                writeAMF3(entry.key)
                writeAMF3(entry.value)
            }
            close(index)
        case .reference(let target):
            writeAMF3Reference(target)
        }
    }

    /// Starts the AMF3 complex value numbered `index` (writes `marker`, takes an object table
    /// entry). Returns false after writing a reference when it already is in the AMF3 table, or
    /// null when `count` does not fit a U29 header.
    mutating func beginAMF3(_ index: Int, marker: UInt8, count: Int) -> Bool {
        if amf3Index[index] >= 0 {
            bytes.append(marker)
            writeU29(amf3Index[index] << 1)
            close(index)
            return false
        }
        guard count <= AMF3Limits.maxLength else {
            warn(AMFWarning.tooLong)
            bytes.append(AMF3Marker.null)
            close(index)
            return false
        }
        bytes.append(marker)
        amf3Index[index] = amf3ObjectCount
        amf3ObjectCount += 1
        return true
    }

    /// Appends a reference to the complex value numbered `target`: an AMF3 object reference when
    /// it is in the AMF3 table, else the value in full (it was written in AMF0, or not yet: a field
    /// of a mixed array pointing into its dense part, which AMF3 writes later).
    mutating func writeAMF3Reference(_ target: Int) {
        guard isValidReference(target) else {
            warn(AMFWarning.badReference)
            bytes.append(AMF3Marker.null)
            return
        }
        if amf3Index[target] >= 0 {
            bytes.append(Self.amf3Marker(of: complexValues[target]))
            writeU29(amf3Index[target] << 1)
        } else {
            if amf0Index[target] >= 0 {
                warn(AMFWarning.amf0Copy)
            }
            rewrite(target, asAMF3: true)
        }
    }

    /// The AMF3 marker a reference to a complex value carries.
    static func amf3Marker(of value: MonaValue) -> UInt8 {
        switch value {
        case .object: return AMF3Marker.object
        case .map: return AMF3Marker.dictionary
        default: return AMF3Marker.array
        }
    }

    /// Appends an AMF3 string without marker: a string-table reference when the same bytes were
    /// written before, else inline (the empty string is always inline and never in the table).
    mutating func writeAMF3String(_ text: String) {
        let length = text.utf8.count
        if length == 0 {
            bytes.append(0x01)
            return
        }
        let key = Array(text.utf8)
        if let reference = strings[key] {
            writeU29(reference << 1)
            return
        }
        guard length <= AMF3Limits.maxLength else {
            warn(AMFWarning.tooLong)
            bytes.append(0x01)
            return
        }
        strings[key] = strings.count
        writeU29(length << 1 | 1)
        bytes.append(contentsOf: key)
    }

    /// Appends dynamic members (key string, value) then the empty-string terminator 0x01.
    mutating func writeAMF3Fields(_ fields: [MonaField]) {
        for field in fields {
            guard !field.key.isEmpty else {
                warn(AMFWarning.emptyKey)
                skip(field.value)
                continue
            }
            writeAMF3String(field.key)
            writeAMF3(field.value)
        }
        bytes.append(0x01)
    }
}
