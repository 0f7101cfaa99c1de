import MonaValues

extension AMFWriter {
    /// Appends one AMF0 value. Byte arrays and maps, which AMF0 lacks, are switched to AMF3.
    mutating func writeAMF0(_ value: MonaValue) {
        switch value {
        case .nil:
            bytes.append(AMF0Marker.null)
        case .boolean(let flag):
            bytes.append(AMF0Marker.boolean)
            bytes.append(flag ? 1 : 0)
        case .number(let number):
            bytes.append(AMF0Marker.number)
            writeDouble(number)
        case .string(let text):
            writeAMF0String(text)
        case .date(let milliseconds):
            bytes.append(AMF0Marker.date)
            writeDouble(milliseconds)
            writeU16(0)  // time zone: always 0, the milliseconds are UTC
        case .bytes:
            warn(AMFWarning.bytes)
            bytes.append(AMF0Marker.avmPlus)
            writeAMF3(value)
        case .map:
            warn(AMFWarning.map)
            bytes.append(AMF0Marker.avmPlus)
            writeAMF3(value)
        case .array(let items):
            let index = open()
            guard beginAMF0(index) else { return }
            bytes.append(AMF0Marker.strictArray)
            writeU32(UInt32(clamping: items.count))
            for item in items { writeAMF0(item) }
            close(index)
        case .object(let type, let fields):
            let index = open()
            guard beginAMF0(index) else { return }
            let typeLength = type.utf8.count
            if typeLength == 0 {
                bytes.append(AMF0Marker.object)
            } else if typeLength > 0xFFFF {
                warn(AMFWarning.longTypeName)
                bytes.append(AMF0Marker.object)
            } else {
                bytes.append(AMF0Marker.typedObject)
                writeU16(typeLength)
                bytes.append(contentsOf: type.utf8)
            }
            writeAMF0Fields(fields)
            close(index)
        case .mixed(let dense, let fields):
            // ECMA array: the dense part under the keys "1"..."n", then the fields.
            let index = open()
            guard beginAMF0(index) else { return }
            bytes.append(AMF0Marker.ecmaArray)
            let written = fields.count(where: { Self.isAMF0Key($0.key) })
            writeU32(UInt32(clamping: dense.count + written))
            for (position, item) in dense.enumerated() {
                let key = String(position + 1)
                writeU16(key.utf8.count)
                bytes.append(contentsOf: key.utf8)
                writeAMF0(item)
            }
            writeAMF0Fields(fields)
            close(index)
        case .reference(let target):
            writeAMF0Reference(target)
        }
    }

    /// Starts the AMF0 complex value numbered `index`, giving it an AMF0 reference number; when it
    /// was already written (only possible after a rewrite), writes a reference instead and
    /// returns false.
    mutating func beginAMF0(_ index: Int) -> Bool {
        if amf0Index[index] >= 0 || amf3Index[index] >= 0 {
            writeAMF0Reference(index)
            close(index)
            return false
        }
        amf0Index[index] = amf0ObjectCount
        amf0ObjectCount += 1
        return true
    }

    /// Appends a reference to the complex value numbered `target`: AMF0 0x07 when it was written
    /// in AMF0, an AVM+ switch and an AMF3 reference when it was written in AMF3, else the value
    /// in full (a reference to a value not written yet).
    mutating func writeAMF0Reference(_ target: Int) {
        guard isValidReference(target) else {
            warn(AMFWarning.badReference)
            bytes.append(AMF0Marker.null)
            return
        }
        if amf0Index[target] >= 0 {
            guard amf0Index[target] <= 0xFFFF else {
                warn(AMFWarning.referenceOverflow)
                bytes.append(AMF0Marker.null)
                return
            }
            bytes.append(AMF0Marker.reference)
            writeU16(amf0Index[target])
        } else if amf3Index[target] >= 0 {
            bytes.append(AMF0Marker.avmPlus)
            writeAMF3Reference(target)
        } else {
            rewrite(target, asAMF3: false)
        }
    }

    /// Appends a string: 0x02 with a 16-bit length, or 0x0C with a 32-bit length over 65535 bytes.
    mutating func writeAMF0String(_ text: String) {
        let length = text.utf8.count
        if length <= 0xFFFF {
            bytes.append(AMF0Marker.string)
            writeU16(length)
        } else if length <= Int(UInt32.max) {
            bytes.append(AMF0Marker.longString)
            writeU32(UInt32(length))
        } else {
            warn(AMFWarning.longString)
            bytes.append(AMF0Marker.string)
            writeU16(0)
            return
        }
        bytes.append(contentsOf: text.utf8)
    }

    /// True when `key` can be written as an AMF0 property name (non-empty, at most 65535 bytes).
    static func isAMF0Key(_ key: String) -> Bool {
        let length = key.utf8.count
        return length > 0 && length <= 0xFFFF
    }

    /// Appends the properties (16-bit key length, key, value) then the object end 00 00 09.
    mutating func writeAMF0Fields(_ fields: [MonaField]) {
        for field in fields {
            guard Self.isAMF0Key(field.key) else {
                warn(field.key.isEmpty ? AMFWarning.emptyKey : AMFWarning.longKey)
                skip(field.value)
                continue
            }
            writeU16(field.key.utf8.count)
            bytes.append(contentsOf: field.key.utf8)
            writeAMF0(field.value)
        }
        bytes.append(contentsOf: [0x00, 0x00, AMF0Marker.objectEnd])
    }
}
