/// TFRecord framing, the container of TensorBoard event files: each record is
///   uint64 length, uint32 masked CRC-32C of the length, data, uint32 masked CRC-32C of the data
/// (all little-endian).
public enum TFRecord {
    public static func frame<Bytes: Collection>(_ data: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        let length = littleEndianBytes(UInt64(data.count))
        out += length
        out += littleEndianBytes(CRC32C.masked(length))
        out += data
        out += littleEndianBytes(CRC32C.masked(data))
        return out
    }

    /// The records of a file up to the first damage, and what the damage is. A process killed
    /// while writing leaves a truncated last record; a bad CRC means everything after it is
    /// suspect, so reading stops there too.
    public struct Contents {
        public var records: [ArraySlice<UInt8>] = []
        /// Bytes from the start of the file that hold whole, checked records.
        public var validLength = 0
        /// Why reading stopped before the end of the file, if it did.
        public var damage: String?
    }

    public static func read(_ bytes: [UInt8]) -> Contents {
        var contents = Contents()
        var p = 0
        while p < bytes.count {
            guard bytes.count - p >= 12 else {
                contents.damage = "a truncated record header at byte \(p)"
                break
            }
            let lengthBytes = bytes[p..<(p + 8)]
            guard littleEndianInteger(bytes[(p + 8)..<(p + 12)]) == UInt64(CRC32C.masked(lengthBytes)) else {
                contents.damage = "a record length with a bad CRC at byte \(p)"
                break
            }
            let length = littleEndianInteger(lengthBytes), available = bytes.count - p - 16
            guard available >= 0, length <= UInt64(available) else {
                contents.damage = "a truncated record at byte \(p) (\(length) bytes announced, \(bytes.count - p - 12) present)"
                break
            }
            let start = p + 12, end = start + Int(length)
            guard littleEndianInteger(bytes[end..<(end + 4)]) == UInt64(CRC32C.masked(bytes[start..<end])) else {
                contents.damage = "a record with a bad data CRC at byte \(p)"
                break
            }
            contents.records.append(bytes[start..<end])
            p = end + 4
            contents.validLength = p
        }
        return contents
    }
}
