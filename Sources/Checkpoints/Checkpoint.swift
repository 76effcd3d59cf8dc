import Foundation

/// One committed checkpoint: a `step-XXXXXXXX` folder of named files (`model.safetensors`,
/// `trainer.json`, `recipe.yaml`, …). Reading only; see `CheckpointDirectory` for writing.
public struct Checkpoint: Sendable {
    public let url: URL
    /// The step from the folder name, when it follows the `step-<digits>` convention.
    public let step: Int?

    public init(url: URL) {
        self.url = url.standardizedFileURL
        self.step = CheckpointDirectory.step(fromFolderName: url.lastPathComponent)
    }

    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    public var fileNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
    }

    public func safetensors(_ name: String) throws -> SafetensorsFile {
        try requireFile(name)
        return try SafetensorsFile(contentsOf: file(name))
    }

    public func data(_ name: String) throws -> Data {
        try requireFile(name)
        do { return try Data(contentsOf: file(name)) } catch {
            throw CheckpointError(path: file(name).path, "cannot read: \(error.localizedDescription)")
        }
    }

    public func text(_ name: String) throws -> String {
        guard let s = String(data: try data(name), encoding: .utf8) else {
            throw CheckpointError(path: file(name).path, "is not UTF-8 text")
        }
        return s
    }

    public func json<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        do { return try JSONDecoder().decode(type, from: try data(name)) } catch let e as CheckpointError { throw e } catch {
            throw CheckpointError(path: file(name).path, "cannot decode \(T.self): \(error)")
        }
    }

    public func jsonObject(_ name: String) throws -> [String: Any] {
        do {
            guard let object = try JSONSerialization.jsonObject(with: try data(name)) as? [String: Any] else {
                throw CheckpointError(path: file(name).path, "is not a JSON object")
            }
            return object
        } catch let e as CheckpointError { throw e } catch {
            throw CheckpointError(path: file(name).path, "is not valid JSON: \(error.localizedDescription)")
        }
    }

    private func requireFile(_ name: String) throws {
        if !FileManager.default.fileExists(atPath: file(name).path) {
            throw CheckpointError(path: url.path, "has no file '\(name)' (it has: \(fileNames.joined(separator: ", ")))")
        }
    }
}
