import Foundation

/// `metrics.jsonl`: one JSON object per line, appended and flushed as training goes, so a
/// crash loses at most the line being written. Keys are sorted for stable diffs.
public final class MetricsLog {
    public let path: String
    private let handle: FileHandle
    /// Where every row is also written as TensorBoard scalars (`<kind>/<key>`), when on.
    public var tensorBoard: TensorBoardWriter?

    public init(path: String) throws {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw TrainingError("cannot create metrics log \(path)")
            }
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw TrainingError("cannot open metrics log \(path)") }
        h.seekToEndOfFile()
        handle = h
    }

    deinit { try? handle.close() }

    public func append(_ row: [String: Double], step: Int, kind: String = "train") throws {
        var object: [String: Any] = ["step": step, "kind": kind]
        for (k, v) in row { object[k] = v.isFinite ? v : NSNull() }
        do {
            var line = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            line.append(UInt8(ascii: "\n"))
            try handle.write(contentsOf: line)
        } catch {
            throw TrainingError("cannot append to \(path): \(error.localizedDescription)")
        }
        try tensorBoard?.addScalars(row, step: step, prefix: kind)
    }

    /// Reads the rows of one kind back (for plots and for truncating after a resume).
    public static func read(path: String, kind: String = "train") -> [(step: Int, values: [String: Double])] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  obj["kind"] as? String == kind, let step = obj["step"] as? Int else { return nil }
            var values: [String: Double] = [:]
            for (k, v) in obj { if let d = v as? Double, k != "step" { values[k] = d } }
            return (step, values)
        }
    }
}

/// An error from the training runtime, with a message meant for the user.
public struct TrainingError: Error, CustomStringConvertible {
    public var description: String
    public init(_ message: String) { description = message }
}
