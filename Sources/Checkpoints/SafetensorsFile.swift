import Foundation
import Tensors

/// A safetensors file opened for reading (https://github.com/huggingface/safetensors):
/// an 8-byte little-endian header length N, N bytes of JSON
/// `{"__metadata__": {..}, name: {"dtype", "shape", "data_offsets": [begin, end]}}`, then the
/// tensor bytes, offsets relative to the end of the header.
///
/// Opening maps the file and validates the whole header the way the reference Rust crate does:
/// every tensor's byte range matches its shape and dtype, the ranges tile the data area with no
/// gap or overlap, and the data area ends exactly at the end of the file. A file that passes can
/// be read without further checks.
public final class SafetensorsFile {
    /// One tensor's description from the header.
    public struct Entry: Sendable {
        public let dtype: SafetensorsDType
        public let shape: [Int]
        /// Byte range within the data area (after the header).
        public let dataRange: Range<Int>
        public var count: Int { elementCount(shape) }
    }

    public let path: String
    public let metadata: [String: String]
    public let entries: [String: Entry]
    private let mapping: FileMapping
    private let dataStart: Int

    /// The reference crate refuses headers above 100 MB: a larger one is corruption, not a model.
    public static let maxHeaderBytes = 100_000_000

    public convenience init(contentsOf url: URL) throws { try self.init(path: url.path) }

    public init(path: String) throws {
        self.path = path
        mapping = try FileMapping(path: path)
        let file = mapping.bytes
        func fail(_ reason: String) -> SafetensorsError { SafetensorsError(file: path, reason) }
        func fail(_ key: String?, _ reason: String) -> SafetensorsError { SafetensorsError(file: path, key: key, reason) }

        guard file.count >= 8 else { throw fail("file is \(file.count) bytes, too small for the 8-byte header length") }
        let headerLength = UInt64(littleEndian: file.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw fail("header length \(headerLength) exceeds the \(Self.maxHeaderBytes)-byte limit (not a safetensors file?)")
        }
        guard Int(headerLength) <= file.count - 8 else {
            throw fail("header length \(headerLength) runs past the end of the \(file.count)-byte file (truncated?)")
        }
        let n = Int(headerLength)
        dataStart = 8 + n
        let dataBytes = file.count - dataStart

        let headerBytes = UnsafeRawBufferPointer(rebasing: file[8..<dataStart])
        guard n > 0, headerBytes[0] == UInt8(ascii: "{") else { throw fail("header is not a JSON object") }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(headerBytes), options: [])
        } catch {
            throw fail("header is not valid JSON: \(error.localizedDescription)")
        }
        guard let header = json as? [String: Any] else { throw fail("header is not a JSON object") }

        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (key, value) in header {
            if key == "__metadata__" {
                guard let map = value as? [String: Any] else { throw fail("__metadata__ is not an object of strings") }
                for (k, v) in map {
                    guard let s = v as? String else { throw fail("__metadata__ value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            entries[key] = try Self.parseEntry(value, key: key, fail: fail)
        }

        // The byte ranges must tile the data area exactly, in offset order.
        let ordered = entries.sorted { ($0.value.dataRange.lowerBound, $0.key) < ($1.value.dataRange.lowerBound, $1.key) }
        var expectedStart = 0
        for (key, entry) in ordered {
            let range = entry.dataRange
            if range.lowerBound < expectedStart {
                throw fail(key, "data_offsets [\(range.lowerBound), \(range.upperBound)] overlap the previous tensor, which ends at \(expectedStart)")
            }
            if range.lowerBound > expectedStart {
                throw fail(key, "data_offsets start at \(range.lowerBound), leaving a gap after byte \(expectedStart)")
            }
            if range.upperBound > dataBytes {
                throw fail(key, "data_offsets end at \(range.upperBound) but the file holds only \(dataBytes) data bytes (truncated file)")
            }
            expectedStart = range.upperBound
        }
        if expectedStart != dataBytes {
            throw fail("\(dataBytes - expectedStart) bytes after the last tensor are not described by the header")
        }
        self.metadata = metadata
        self.entries = entries
    }

    private static func parseEntry(_ value: Any, key: String, fail: (String?, String) -> SafetensorsError) throws -> Entry {
        guard let object = value as? [String: Any] else { throw fail(key, "entry is not a JSON object") }
        guard let dtypeName = object["dtype"] as? String else { throw fail(key, "missing or non-string \"dtype\"") }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            let known = SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail(key, "unsupported dtype \"\(dtypeName)\" (Relief reads \(known))")
        }
        guard let shapeValues = object["shape"] as? [Any] else { throw fail(key, "missing or non-array \"shape\"") }
        var shape: [Int] = []
        var count = 1
        for dim in shapeValues {
            guard let d = Self.nonNegativeInt(dim) else { throw fail(key, "shape \(shapeValues) has a non-integer or negative dimension") }
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow { throw fail(key, "shape \(shapeValues) overflows") }
            shape.append(d)
            count = product
        }
        guard let offsets = object["data_offsets"] as? [Any], offsets.count == 2,
              let begin = Self.nonNegativeInt(offsets[0]), let end = Self.nonNegativeInt(offsets[1]) else {
            throw fail(key, "\"data_offsets\" is not a pair of non-negative integers")
        }
        guard begin <= end else { throw fail(key, "data_offsets [\(begin), \(end)] run backwards") }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, end - begin == bytes else {
            throw fail(key, "data_offsets [\(begin), \(end)] hold \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(bytes)")
        }
        return Entry(dtype: dtype, shape: shape, dataRange: begin..<end)
    }

    private static func nonNegativeInt(_ value: Any) -> Int? {
        if let i = value as? Int, i >= 0 { return i }
        return nil
    }

    /// Tensor names in sorted order.
    public var names: [String] { entries.keys.sorted() }

    public func entry(_ name: String) throws -> Entry {
        guard let e = entries[name] else {
            throw SafetensorsError(file: path, key: name, "no such tensor (file has \(entries.count): \(names.prefix(8).joined(separator: ", "))\(entries.count > 8 ? ", …" : ""))")
        }
        return e
    }

    /// The tensor converted to Float32.
    public func tensor(_ name: String) throws -> Tensor {
        let e = try entry(name)
        var t = Tensor(uninitializedShape: e.shape)
        try t.withUnsafeMutableBufferPointer { try read(name, into: $0) }
        return t
    }

    /// Converts the tensor straight into caller memory (e.g. its slice of a flat parameter
    /// buffer); `destination` must hold exactly its element count.
    public func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let e = try entry(name)
        guard destination.count == e.count else {
            throw SafetensorsError(file: path, key: name, "holds \(e.count) elements (shape \(e.shape)) but the destination has room for \(destination.count)")
        }
        guard e.count > 0, let base = mapping.bytes.baseAddress, let out = destination.baseAddress else { return }
        e.dtype.convert(base + dataStart + e.dataRange.lowerBound, count: e.count, into: out)
    }

    /// Every tensor, converted to Float32.
    public func tensors() throws -> [String: Tensor] {
        var all: [String: Tensor] = [:]
        for name in entries.keys { all[name] = try tensor(name) }
        return all
    }
}
