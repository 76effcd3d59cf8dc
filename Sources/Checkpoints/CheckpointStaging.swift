import Foundation
import Tensors

/// The temporary folder a checkpoint is written into before `CheckpointDirectory` renames it
/// into place. Every file is fsync'd as it is written, so the rename publishes complete data.
public final class CheckpointStaging {
    public let url: URL

    init(url: URL) { self.url = url }

    public func writeSafetensors(_ name: String, _ tensors: [String: Tensor], metadata: [String: String] = [:]) throws {
        try Safetensors.write(tensors, metadata: metadata, to: try destination(name), sync: true)
    }

    /// Pretty-printed with sorted keys, so checkpoints diff cleanly.
    public func writeJSON<T: Encodable>(_ name: String, _ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(value) } catch {
            throw CheckpointError(path: url.appendingPathComponent(name).path, "cannot encode \(T.self): \(error)")
        }
        try writeData(name, data)
    }

    public func writeJSONObject(_ name: String, _ object: [String: Any]) throws {
        let path = url.appendingPathComponent(name).path
        guard JSONSerialization.isValidJSONObject(object) else { throw CheckpointError(path: path, "object is not representable as JSON") }
        let data: Data
        do { data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) } catch {
            throw CheckpointError(path: path, "cannot encode JSON: \(error.localizedDescription)")
        }
        try writeData(name, data)
    }

    public func writeText(_ name: String, _ text: String) throws { try writeData(name, Data(text.utf8)) }

    public func writeData(_ name: String, _ data: Data) throws {
        var file = try WritableFile(creating: try destination(name).path)
        do {
            try data.withUnsafeBytes { try file.write($0, what: "contents") }
            try file.sync()
            try file.close()
        } catch {
            file.closeQuietly()
            throw error
        }
    }

    private func destination(_ name: String) throws -> URL {
        if name.isEmpty || name.hasPrefix(".") || name.contains("/") {
            throw CheckpointError(path: url.path, "'\(name)' is not a plain file name")
        }
        return url.appendingPathComponent(name)
    }
}
