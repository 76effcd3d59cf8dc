/// The Protocol Buffers wire format, enough to write and read back the few messages of a
/// TensorBoard event file by hand (no code generator, no runtime dependency). Fields are
/// written in the order the caller gives; callers give them in field-number order and leave
/// out proto3 defaults, as protobuf's own serializers do, so the bytes match theirs.
public struct ProtobufWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    enum WireType: UInt64 { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    mutating func key(_ field: Int, _ type: WireType) { varint(UInt64(field) << 3 | type.rawValue) }

    /// int32, int64 and enum fields (a negative value takes ten bytes, as in protobuf).
    public mutating func int(_ field: Int, _ v: Int64) { key(field, .varint); varint(UInt64(bitPattern: v)) }

    public mutating func double(_ field: Int, _ v: Double) {
        key(field, .fixed64)
        bytes += littleEndianBytes(v.bitPattern)
    }

    public mutating func float(_ field: Int, _ v: Float) {
        key(field, .fixed32)
        bytes += littleEndianBytes(v.bitPattern)
    }

    public mutating func bytes<Bytes: Collection>(_ field: Int, _ v: Bytes) where Bytes.Element == UInt8 {
        key(field, .lengthDelimited)
        varint(UInt64(v.count))
        bytes += v
    }

    public mutating func string(_ field: Int, _ v: String) { bytes(field, Array(v.utf8)) }

    /// A nested message, present even when empty (as a set submessage is in proto3).
    public mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        bytes(field, inner.bytes)
    }
}

/// Reads the fields of one serialized message in order; unknown fields are the caller's to skip.
public struct ProtobufReader {
    public enum Value {
        case varint(UInt64), fixed64(UInt64), fixed32(UInt32), bytes(ArraySlice<UInt8>)

        public var integer: Int64? { if case .varint(let v) = self { return Int64(bitPattern: v) } else { return nil } }
        public var double: Double? { if case .fixed64(let v) = self { return Double(bitPattern: v) } else { return nil } }
        public var float: Float? { if case .fixed32(let v) = self { return Float(bitPattern: v) } else { return nil } }
        public var data: ArraySlice<UInt8>? { if case .bytes(let v) = self { return v } else { return nil } }
        public var string: String? { data.flatMap { String(validating: $0, as: UTF8.self) } }
    }

    public struct Malformed: Error, CustomStringConvertible {
        public let offset: Int
        public let reason: String
        public var description: String { "malformed protobuf at byte \(offset): \(reason)" }
    }

    let buffer: ArraySlice<UInt8>
    var position: Int

    public init(_ bytes: ArraySlice<UInt8>) { buffer = bytes; position = bytes.startIndex }
    public init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard position < buffer.endIndex else { throw Malformed(offset: position, reason: "a varint runs past the end") }
            guard shift < 64 else { throw Malformed(offset: position, reason: "a varint is longer than ten bytes") }
            let b = buffer[position]
            position += 1
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, buffer.endIndex - position >= n else {
            throw Malformed(offset: position, reason: "a field of \(n) bytes runs past the end")
        }
        defer { position += n }
        return buffer[position..<(position + n)]
    }

    /// The next field, or nil at the end of the message.
    public mutating func next() throws -> (field: Int, value: Value)? {
        guard position < buffer.endIndex else { return nil }
        let start = position
        let key = try varint()
        let field = Int(key >> 3)
        guard field > 0 else { throw Malformed(offset: start, reason: "field number 0") }
        switch key & 7 {
        case 0: return (field, .varint(try varint()))
        case 1: return (field, .fixed64(littleEndianInteger(try take(8))))
        case 2:
            let n = try varint()
            guard n <= UInt64(Int.max) else { throw Malformed(offset: start, reason: "a length of \(n)") }
            return (field, .bytes(try take(Int(n))))
        case 5: return (field, .fixed32(UInt32(littleEndianInteger(try take(4)))))
        default: throw Malformed(offset: start, reason: "wire type \(key & 7) of field \(field) (groups are not used)")
        }
    }
}

func littleEndianBytes<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

func littleEndianInteger(_ bytes: ArraySlice<UInt8>) -> UInt64 { bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) } }
