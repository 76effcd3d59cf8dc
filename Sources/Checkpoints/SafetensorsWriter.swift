import Foundation
import Tensors

/// Writes safetensors files as F32, byte-compatible with the reference Rust crate: tensors in
/// sorted name order, data contiguous from offset 0, the JSON header padded with spaces so the
/// data area starts 8-byte aligned.
public enum Safetensors {
    /// Writes `tensors` (any shapes, including scalars) and the string `metadata` to `url`.
    /// The file is removed again if writing fails part-way. With `sync`, it is fsync'd before
    /// returning.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL, sync: Bool = false) throws {
        let path = url.path
        let names = tensors.keys.sorted()
        for name in names where name.isEmpty || name == "__metadata__" {
            throw SafetensorsError(file: path, key: name, "is not a valid tensor name")
        }
        let header = headerBytes(names: names, shapes: names.map { tensors[$0]!.shape }, metadata: metadata)

        var file: WritableFile
        do { file = try WritableFile(creating: path) } catch let e as CheckpointError {
            throw SafetensorsError(file: path, e.reason)
        }
        do {
            var length = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &length) { try file.write($0, what: "header length") }
            try header.withUnsafeBytes { try file.write($0, what: "header") }
            for name in names {
                let t = tensors[name]!
                try file.write(UnsafeRawBufferPointer(start: t.storage.base, count: t.count * 4), what: "tensor '\(name)'")
            }
            if sync { try file.sync() }
            try file.close()
        } catch let e as CheckpointError {
            file.closeQuietly()
            unlink(path)
            throw SafetensorsError(file: path, e.reason)
        }
    }

    /// The JSON header (without the length prefix), padded with spaces to a multiple of 8 bytes.
    static func headerBytes(names: [String], shapes: [[Int]], metadata: [String: String]) -> [UInt8] {
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += "\"__metadata__\":{"
            json += metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for (name, shape) in zip(names, shapes) {
            let bytes = elementCount(shape) * 4
            if !first { json += "," }
            first = false
            json += "\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        json += "}"
        var bytes = Array(json.utf8)
        bytes += [UInt8](repeating: UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8)
        return bytes
    }

    /// A JSON string literal, escaped by Foundation's encoder (slashes left as they are).
    static func jsonString(_ s: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return String(decoding: try! encoder.encode(s), as: UTF8.self)  // a String always encodes
    }
}
