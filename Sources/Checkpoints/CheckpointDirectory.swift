import Foundation
import Tensors

/// A run's checkpoint folder, `checkpoints/<run>/`, holding `step-XXXXXXXX/` folders and a
/// `latest` file naming the newest committed one.
///
/// Commit protocol (crash-safe at every point):
/// 1. write every file into `.tmp-step-XXXXXXXX-<pid>/`, fsync each file and the folder;
/// 2. rename it to `step-XXXXXXXX/` and fsync the run folder;
/// 3. write `latest.tmp`, fsync, rename over `latest`, fsync the run folder.
/// A crash before 2 leaves a temporary folder (removed by the next commit) and the previous
/// checkpoint untouched; a crash between 2 and 3 leaves `latest` at the previous step, whose
/// folder is still complete. Only one process (rank 0) writes a run folder.
public struct CheckpointDirectory: Sendable {
    public let root: URL
    static let temporaryPrefix = ".tmp-"
    static let latestName = "latest"

    public init(root: URL) { self.root = root.standardizedFileURL }

    /// `step-00001234`: fixed width so folder names sort by step.
    public static func folderName(step: Int) -> String { "step-" + String(format: "%08d", step) }

    static func step(fromFolderName name: String) -> Int? {
        guard name.hasPrefix("step-") else { return nil }
        let digits = name.dropFirst(5)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    public func url(step: Int) -> URL { root.appendingPathComponent(Self.folderName(step: step)) }

    /// Committed steps, ascending (temporary folders excluded).
    public func steps() throws -> [Int] {
        guard FileManager.default.fileExists(atPath: root.path) else { return [] }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: root.path) } catch {
            throw CheckpointError(path: root.path, "cannot list: \(error.localizedDescription)")
        }
        return names.compactMap(Self.step(fromFolderName:)).sorted()
    }

    /// The step `latest` names, or nil when nothing was committed yet.
    public func latestStep() throws -> Int? {
        let pointer = root.appendingPathComponent(Self.latestName)
        guard FileManager.default.fileExists(atPath: pointer.path) else { return nil }
        guard let data = FileManager.default.contents(atPath: pointer.path),
              let text = String(data: data, encoding: .utf8) else {
            throw CheckpointError(path: pointer.path, "cannot read")
        }
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let step = Self.step(fromFolderName: name) else {
            throw CheckpointError(path: pointer.path, "names '\(name)', which is not a step-XXXXXXXX folder")
        }
        return step
    }

    /// The checkpoint `latest` points at, or nil when nothing was committed yet.
    public func latest() throws -> Checkpoint? {
        guard let step = try latestStep() else { return nil }
        let url = url(step: step)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CheckpointError(path: root.appendingPathComponent(Self.latestName).path,
                                  "names \(Self.folderName(step: step)), which does not exist")
        }
        return Checkpoint(url: url)
    }

    public func checkpoint(step: Int) throws -> Checkpoint {
        let url = url(step: step)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CheckpointError(path: url.path, "no such checkpoint (steps here: \(try steps().map(String.init).joined(separator: ", ")))")
        }
        return Checkpoint(url: url)
    }

    /// Resolves what a user typed: `latest` or a step number within this run folder.
    public func resolve(_ spec: String) throws -> Checkpoint {
        if spec == Self.latestName {
            guard let c = try latest() else { throw CheckpointError(path: root.path, "has no committed checkpoint (no 'latest')") }
            return c
        }
        if let step = Int(spec) ?? Self.step(fromFolderName: spec) { return try checkpoint(step: step) }
        throw CheckpointError(path: root.path, "'\(spec)' is neither 'latest' nor a step")
    }

    /// Resolves a path: a step folder (or any folder holding `model.safetensors`), a run folder
    /// (its `latest`), or a run's `latest` file.
    public static func resolve(path: String) throws -> Checkpoint {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw CheckpointError(path: url.path, "does not exist")
        }
        if !isDirectory.boolValue {
            guard url.lastPathComponent == latestName else {
                throw CheckpointError(path: url.path, "is a file, not a checkpoint folder or a 'latest' pointer")
            }
            return try CheckpointDirectory(root: url.deletingLastPathComponent()).resolve(latestName)
        }
        if FileManager.default.fileExists(atPath: url.appendingPathComponent(latestName).path) {
            return try CheckpointDirectory(root: url).resolve(latestName)
        }
        // A committed checkpoint copied or renamed elsewhere is still one: its files, not its name, make it.
        if step(fromFolderName: url.lastPathComponent) != nil || FileManager.default.fileExists(atPath: url.appendingPathComponent("model.safetensors").path) {
            return Checkpoint(url: url)
        }
        throw CheckpointError(path: url.path, "is neither a checkpoint folder (step-XXXXXXXX, or any folder holding model.safetensors) "
                              + "nor a run folder with 'latest'")
    }

    /// Writes a checkpoint for `step` through `body`, commits it atomically, points `latest` at
    /// it and applies `retention`. Re-committing an existing step replaces it. On any error the
    /// temporary folder is removed and the previous checkpoint and `latest` are left as they were.
    @discardableResult
    public func commit(step: Int, retention: RetentionPolicy? = nil, _ body: (CheckpointStaging) throws -> Void) throws -> Checkpoint {
        check(step >= 0, "negative step")
        let fm = FileManager.default
        do { try fm.createDirectory(at: root, withIntermediateDirectories: true) } catch {
            throw CheckpointError(path: root.path, "cannot create run folder: \(error.localizedDescription)")
        }
        try removeStaleTemporaries()

        let name = Self.folderName(step: step)
        let staging = root.appendingPathComponent("\(Self.temporaryPrefix)\(name)-\(getpid())")
        if mkdir(staging.path, 0o755) != 0 {
            throw CheckpointError(path: staging.path, "cannot create temporary folder: \(errnoText())")
        }
        let final = url(step: step)
        do {
            try body(CheckpointStaging(url: staging))
            try syncDirectory(staging.path)
            try publish(staging, as: final)
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
        try pointLatest(at: name)
        if let retention { try applyRetention(retention) }
        return Checkpoint(url: final)
    }

    /// Renames the finished temporary folder to its step name, replacing an older folder of the
    /// same step (a run resumed from an earlier checkpoint writes the same steps again).
    private func publish(_ staging: URL, as final: URL) throws {
        var displaced: URL?
        if FileManager.default.fileExists(atPath: final.path) {
            let aside = root.appendingPathComponent("\(Self.temporaryPrefix)replaced-\(final.lastPathComponent)-\(getpid())")
            if rename(final.path, aside.path) != 0 {
                throw CheckpointError(path: final.path, "cannot move the existing folder aside: \(errnoText())")
            }
            displaced = aside
        }
        if rename(staging.path, final.path) != 0 {
            let reason = errnoText()
            if let displaced { _ = rename(displaced.path, final.path) }
            throw CheckpointError(path: final.path, "cannot rename \(staging.lastPathComponent) into place: \(reason)")
        }
        try syncDirectory(root.path)
        if let displaced { try? FileManager.default.removeItem(at: displaced) }
    }

    /// Atomically replaces `latest` with one naming `folder`.
    private func pointLatest(at folder: String) throws {
        let pointer = root.appendingPathComponent(Self.latestName)
        let temporary = root.appendingPathComponent(Self.latestName + ".tmp")
        var file = try WritableFile(creating: temporary.path)
        do {
            try Array((folder + "\n").utf8).withUnsafeBytes { try file.write($0, what: "latest pointer") }
            try file.sync()
            try file.close()
            if rename(temporary.path, pointer.path) != 0 {
                throw CheckpointError(path: pointer.path, "cannot rename latest.tmp into place: \(errnoText())")
            }
            try syncDirectory(root.path)
        } catch {
            file.closeQuietly()
            unlink(temporary.path)
            throw error
        }
    }

    /// Deletes the steps `policy` does not keep (never the one `latest` names); returns them.
    @discardableResult
    public func applyRetention(_ policy: RetentionPolicy) throws -> [Int] {
        let doomed = policy.stepsToDelete(try steps(), latest: try latestStep())
        for step in doomed {
            do { try FileManager.default.removeItem(at: url(step: step)) } catch {
                throw CheckpointError(path: url(step: step).path, "cannot delete (retention): \(error.localizedDescription)")
            }
        }
        return doomed
    }

    /// Removes temporary folders and `latest.tmp` left by an interrupted commit; returns their names.
    @discardableResult
    public func removeStaleTemporaries() throws -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root.path) else { return [] }
        let stale = names.filter { $0.hasPrefix(Self.temporaryPrefix) || $0 == Self.latestName + ".tmp" }.sorted()
        for name in stale {
            do { try FileManager.default.removeItem(at: root.appendingPathComponent(name)) } catch {
                throw CheckpointError(path: root.appendingPathComponent(name).path, "cannot remove stale temporary: \(error.localizedDescription)")
            }
        }
        return stale
    }
}
