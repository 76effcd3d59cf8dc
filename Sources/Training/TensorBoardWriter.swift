import Datasets
import Foundation

/// TensorBoard event files of a run, written by rank 0 into the run folder beside
/// `metrics.jsonl`: `tensorboard --logdir checkpoints/` shows every run's curves, evaluation
/// grids and recipe, and overlays runs.
///
/// Each training session (a fresh start or a resume) writes its own file,
/// `events.out.tfevents.<unix time>.<host>`, as TensorFlow's writers do, starting with the file
/// version, a `SessionLog` START at the first step it will log (a reader that already holds
/// later steps from an interrupted session drops them, as TensorBoard's `EventAccumulator`
/// does with `file_version` 2) and the resolved recipe as text. Before that, the files of
/// earlier sessions are cut back to the steps the resumed checkpoint covers, so readers that do
/// not purge (or a fresh TensorBoard) never see a step twice either; a record damaged by a kill
/// ends its file there. Every event is one `write`, so the file is current at each logging step.
public final class TensorBoardWriter {
    public let path: String
    private let handle: FileHandle
    private let clock: () -> Double

    public static let filePrefix = "events.out.tfevents."

    /// Opens a new events file in `folder` for a session that continues after `step` (0 for a
    /// fresh run) with the resolved `recipe`. `note` hears what was cut from earlier files.
    public init(folder: URL, continuingAfter step: Int, recipe: String, host: String = ProcessInfo.processInfo.hostName,
                clock: @escaping () -> Double = { Date().timeIntervalSince1970 }, note: (String) -> Void = { _ in }) throws {
        self.clock = clock
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Self.cutBack(folder: folder, toStep: step, note: note)

        let stem = Self.filePrefix + "\(Int(clock())).\(host.isEmpty ? "localhost" : host.replacingOccurrences(of: "/", with: "_"))"
        // A session resumed within the same second as the last one still gets a file of its own,
        // named so that it sorts after it (readers take files in name order).
        var name = stem, n = 0
        while FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) { n += 1; name = stem + ".\(n)" }
        path = folder.appendingPathComponent(name).path
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw TrainingError("cannot create TensorBoard events file \(path)")
        }
        handle = h
        let first = Int64(step + 1)
        try write(TensorBoardEvent(wallTime: clock(), step: 0, .fileVersion(TensorBoardEvent.fileVersion)))
        try write(TensorBoardEvent(wallTime: clock(), step: first, .sessionStart))
        try write(TensorBoardEvent(wallTime: clock(), step: first, .summary([.init(tag: "recipe", .text("```yaml\n\(recipe.trimmingCharacters(in: .newlines))\n```"))])))
    }

    deinit { try? handle.close() }

    /// One row of scalars, tagged `prefix/key` (`train/loss`, `eval/psnr`). Non-finite values
    /// are kept (metrics.jsonl writes them as null); TensorBoard leaves them out of the curves.
    public func addScalars(_ row: [String: Double], step: Int, prefix: String) throws {
        let values = row.sorted { $0.key < $1.key }.map { TensorBoardEvent.SummaryValue(tag: "\(prefix)/\($0.key)", .scalar(Float($0.value))) }
        guard !values.isEmpty else { return }
        try write(TensorBoardEvent(wallTime: clock(), step: Int64(step), .summary(values)))
    }

    /// A PNG file as an image summary (the evaluation grids), its bytes as written.
    public func addImage(pngFile: String, tag: String, step: Int) throws {
        let info = try PNG.info(pngFile)
        guard let png = FileManager.default.contents(atPath: pngFile) else { throw TrainingError("cannot read image \(pngFile)") }
        let image = TensorBoardEvent.PNGImage(height: info.height, width: info.width, colorspace: info.channels, png: Array(png))
        try write(TensorBoardEvent(wallTime: clock(), step: Int64(step), .summary([.init(tag: tag, .image(image))])))
    }

    func write(_ event: TensorBoardEvent) throws {
        do { try handle.write(contentsOf: Data(TFRecord.frame(event.encoded))) } catch {
            throw TrainingError("cannot append to TensorBoard events file \(path): \(error.localizedDescription)")
        }
    }

    /// The events of `folder`'s files in file-name order (what TensorBoard reads), each file up
    /// to its first damaged record.
    public static func events(in folder: URL) throws -> [TensorBoardEvent] {
        try eventFiles(in: folder).flatMap { url in
            try TFRecord.read(try bytes(of: url)).records.map { try TensorBoardEvent(decoding: $0) }
        }
    }

    static func eventFiles(in folder: URL) throws -> [URL] {
        guard FileManager.default.fileExists(atPath: folder.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasPrefix(filePrefix) }.sorted().map { folder.appendingPathComponent($0) }
    }

    static func bytes(of url: URL) throws -> [UInt8] {
        do { return [UInt8](try Data(contentsOf: url, options: .alwaysMapped)) } catch {
            throw TrainingError("cannot read TensorBoard events file \(url.path): \(error.localizedDescription)")
        }
    }

    /// Keeps, in every events file, the whole records up to the first damaged one whose step is
    /// at most `step` (what the resumed checkpoint has seen; `metrics.jsonl` is cut back the same
    /// way). A file left with only its version record is removed.
    static func cutBack(folder: URL, toStep step: Int, note: (String) -> Void) throws {
        for url in try eventFiles(in: folder) {
            var contents = TFRecord.read(try bytes(of: url))
            var kept: [ArraySlice<UInt8>] = [], later = 0
            for (i, record) in contents.records.enumerated() {
                guard let s = try? TensorBoardEvent.step(of: record) else {
                    contents.damage = "an event that does not parse (record \(i))"
                    break
                }
                if s <= Int64(step) { kept.append(record) } else { later += 1 }
            }
            guard later > 0 || contents.damage != nil else { continue }
            let why = (later > 0 ? ["\(later) event(s) past step \(step)"] : []) + (contents.damage.map { ["\($0) and what follows it"] } ?? [])
            if kept.count <= 1 {
                try FileManager.default.removeItem(at: url)
                note("tensorboard: removed \(url.lastPathComponent): nothing in it up to step \(step) (dropped \(why.joined(separator: ", ")))")
            } else {
                let temporary = folder.appendingPathComponent(".relief-cut-\(UUID().uuidString)")
                try Data(kept.flatMap { TFRecord.frame($0) }).write(to: temporary)
                guard rename(temporary.path, url.path) == 0 else {
                    throw TrainingError("cannot replace TensorBoard events file \(url.path): \(String(cString: strerror(errno)))")
                }
                note("tensorboard: \(url.lastPathComponent): dropped \(why.joined(separator: ", "))")
            }
        }
    }
}
