import Foundation
import Tensors

// TODO: replace with Checkpoints' safetensors reader (branch formats-runtime) once it lands.
/// Reads a float32 safetensors file: 8-byte little-endian header length, JSON header
/// {name: {dtype, shape, data_offsets}}, then the raw data.
enum FixtureReader {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func read(_ url: URL) throws -> [String: Tensor] {
        let data = try Data(contentsOf: url)
        guard data.count >= 8 else { throw Failure(description: "\(url.lastPathComponent): too short") }
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard 8 + headerLength <= data.count,
              let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as? [String: Any]
        else { throw Failure(description: "\(url.lastPathComponent): bad header") }
        var out: [String: Tensor] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], info["dtype"] as? String == "F32",
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else { throw Failure(description: "\(url.lastPathComponent): tensor '\(name)' is not a float32 entry") }
            let start = 8 + headerLength + offsets[0], end = 8 + headerLength + offsets[1]
            guard end <= data.count, (end - start) == 4 * shape.reduce(1, *)
            else { throw Failure(description: "\(url.lastPathComponent): tensor '\(name)' has bad offsets") }
            let scalars = data.subdata(in: start..<end).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            out[name] = Tensor(scalars, shape: shape)
        }
        return out
    }
}
