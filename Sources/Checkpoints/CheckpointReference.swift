import Foundation

/// A weights file a run depends on without training it (a frozen sub-model's source): which
/// checkpoint, which file in it, and the SHA-256 of its bytes, so that inference finds the same
/// weights or says why it cannot.
public struct CheckpointReference: Codable, Equatable, Sendable {
    /// The step folder, resolved when the run started (never a moving `latest`).
    public var checkpoint: String
    /// The weights file inside it (`ema.safetensors` or `model.safetensors`).
    public var file: String
    /// SHA-256 of the file's bytes, as `sha256sum` prints it.
    public var sha256: String

    public var path: String { (checkpoint as NSString).appendingPathComponent(file) }

    public init(checkpoint: String, file: String, sha256: String) {
        self.checkpoint = checkpoint
        self.file = file
        self.sha256 = sha256
    }

    /// A reference to `file` of `checkpoint`, hashing its contents now.
    public init(checkpoint: Checkpoint, file: String) throws {
        self.init(checkpoint: checkpoint.url.path, file: file, sha256: try SHA256.hex(ofFile: checkpoint.file(file).path))
    }

    /// Opens the referenced weights and checks they are the recorded ones. Looks at `override`
    /// first when given (a step folder, a run folder or a weights file), else at the recorded
    /// path, else, when a checkpoint tree was moved as a whole, at the same run/step/file under
    /// `movedRoot` (the folder holding the run folders, e.g. `checkpoints/`).
    public func open(override: String? = nil, movedRoot: URL? = nil) throws -> SafetensorsFile {
        let candidate: String
        if let override {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: override, isDirectory: &isDirectory), !isDirectory.boolValue,
               URL(fileURLWithPath: override).lastPathComponent != "latest" {
                candidate = override
            } else {
                candidate = try CheckpointDirectory.resolve(path: override).file(file).path
            }
        } else if FileManager.default.fileExists(atPath: path) {
            candidate = path
        } else if let movedRoot, let relocated = relocated(under: movedRoot), FileManager.default.fileExists(atPath: relocated) {
            candidate = relocated
        } else {
            throw CheckpointError(path: path, "does not exist (the recorded source, sha256 \(sha256)); "
                                  + "give its current location instead")
        }
        let digest = try SHA256.hex(ofFile: candidate)
        guard digest == sha256 else {
            throw CheckpointError(path: candidate, "has sha256 \(digest), not the recorded \(sha256) of \(path): "
                                  + "these are not the weights the model was trained with")
        }
        return try SafetensorsFile(path: candidate)
    }

    /// `root/<run>/<step>/<file>` for the recorded `…/<run>/<step>/<file>`.
    func relocated(under root: URL) -> String? {
        let parts = URL(fileURLWithPath: checkpoint).pathComponents
        guard parts.count >= 2 else { return nil }
        return root.appendingPathComponent(parts[parts.count - 2]).appendingPathComponent(parts[parts.count - 1])
            .appendingPathComponent(file).path
    }
}

/// The frozen sub-models a checkpoint's weights were trained with, by name, in the weights files'
/// `frozen_models` metadata: what inference needs to find them.
public enum FrozenModelSources {
    public static let metadataKey = "frozen_models"

    /// Metadata entries for `sources` (none when empty).
    public static func metadata(_ sources: [String: CheckpointReference]) -> [String: String] {
        guard !sources.isEmpty else { return [:] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return [metadataKey: String(decoding: try! encoder.encode(sources), as: UTF8.self)]
    }

    /// The sources a weights file records (empty when it has none).
    public static func read(_ file: SafetensorsFile) throws -> [String: CheckpointReference] {
        guard let json = file.metadata[metadataKey] else { return [:] }
        do { return try JSONDecoder().decode([String: CheckpointReference].self, from: Data(json.utf8)) } catch {
            throw SafetensorsError(file: file.path, "unreadable '\(metadataKey)' metadata: \(error)")
        }
    }

    /// Opens every frozen sub-model `file` was trained with, checking each against its recorded
    /// hash. `overrides` maps a sub-model's name to where it lives now; without one, a
    /// checkpoint tree moved as a whole is searched beside `file`'s run folder.
    public static func resolve(_ file: SafetensorsFile, overrides: [String: String] = [:]) throws -> [String: SafetensorsFile] {
        let sources = try read(file)
        if let unknown = overrides.keys.first(where: { sources[$0] == nil }) {
            throw SafetensorsError(file: file.path, "has no frozen sub-model '\(unknown)' (it has: "
                                   + "\(sources.keys.sorted().joined(separator: ", ")))")
        }
        // …/<root>/<run>/<step>/<file>: the moved tree's root is two levels above the step folder.
        let root = URL(fileURLWithPath: file.path).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var out: [String: SafetensorsFile] = [:]
        for (name, source) in sources {
            do { out[name] = try source.open(override: overrides[name], movedRoot: root) } catch {
                throw SafetensorsError(file: file.path, "frozen sub-model '\(name)': \(error)")
            }
        }
        return out
    }
}
