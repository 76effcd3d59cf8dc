import Tensors

/// The element types of a safetensors file that Relief reads. Everything is converted to
/// Float32 on load; integers are accepted for metadata-like tensors (step counters, indices).
/// Relief writes F32 only.
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8, .bool: 1
        }
    }

    /// Converts `count` elements starting at `source` (any alignment, little-endian) to Float32.
    func convert(_ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        if self == .f32 {
            UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 4)
            return
        }
        // Large half-precision tensors (whole weight matrices) convert on every core.
        Parallel.forRanges(count, grain: 1 << 18) { range in
            switch self {
            case .f16:
                for i in range { out[i] = floatFromHalf(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            case .bf16:
                for i in range {
                    let bits = UInt32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    out[i] = Float(bitPattern: bits << 16)
                }
            case .f64: for i in range { out[i] = Float(source.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
            case .i64: for i in range { out[i] = Float(source.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
            case .i32: for i in range { out[i] = Float(source.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
            case .i16: for i in range { out[i] = Float(source.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
            case .i8: for i in range { out[i] = Float(source.load(fromByteOffset: i, as: Int8.self)) }
            case .u8, .bool: for i in range { out[i] = Float(source.load(fromByteOffset: i, as: UInt8.self)) }
            case .f32: break
            }
        }
    }
}

/// IEEE 754 binary16 → binary32, exact for every value (subnormals, infinities, NaN payloads).
/// Bit-level rather than `Float16` so it builds on every platform Swift supports.
@inline(__always)
func floatFromHalf(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1f
    let mantissa = UInt32(h & 0x3ff)
    if exponent == 0x1f { return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13)) }
    if exponent == 0 {
        // Zero or subnormal: mantissa × 2⁻²⁴, exact in Float32.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign != 0 ? -magnitude : magnitude
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}
