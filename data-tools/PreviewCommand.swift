import ArgumentParser
import Datasets
import Foundation
import Synthesis

/// `data-tools preview`: a contact sheet (subjects × views) of a render root.
struct PreviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preview",
        abstract: "Make a contact-sheet PNG (rows: subjects, columns: views) of a render folder root.")

    @Option(name: .shortAndLong, help: "Render root (folders holding images/cam_XXX.png).")
    var input: String

    @Option(name: [.customLong("out"), .short], help: "Output PNG path.")
    var output: String

    @Option(help: "Subjects (rows), taken evenly across the root.")
    var subjects: Int = 8

    @Option(help: "Views (columns), taken evenly across each subject's views.")
    var views: Int = 8

    @Option(help: "Tile size in pixels (default: the images' own size).")
    var tile: Int?

    func run() throws {
        let root = URL(fileURLWithPath: input)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: input).sorted().filter {
                FileManager.default.fileExists(atPath: root.appendingPathComponent($0).appendingPathComponent("images").path)
            }
        } catch { throw ValidationError("cannot list \(input): \(error.localizedDescription)") }
        guard !names.isEmpty else { throw ValidationError("\(input) holds no subject folders with an images/ folder") }
        guard subjects > 0, views > 0 else { throw ValidationError("--subjects and --views must be positive") }
        let rows = (0..<min(subjects, names.count)).map { names[$0 * names.count / min(subjects, names.count)] }
        var sheet: ContactSheet?
        for (r, name) in rows.enumerated() {
            let folder = root.appendingPathComponent(name)
            let files = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("images").path)
                .filter { $0.hasSuffix(".png") }.sorted()
            guard !files.isEmpty else { throw ValidationError("\(folder.path)/images holds no PNG") }
            let count = min(views, files.count)
            for c in 0..<count {
                let path = folder.appendingPathComponent("images").appendingPathComponent(files[c * files.count / count]).path
                let image = try PNG.read8(path)
                let rgba = PreviewCommand.rgba(image.pixels, channels: image.channels)
                if sheet == nil {
                    let t = tile ?? image.width
                    sheet = ContactSheet(tileWidth: t, tileHeight: t * image.height / image.width, columns: views, rows: rows.count)
                }
                sheet!.place(rgba: rgba, width: image.width, height: image.height, row: r, column: c)
            }
        }
        guard let sheet else { return }
        try sheet.pixels.withUnsafeBufferPointer {
            try PNG.write(output, uint8: $0, width: sheet.width, height: sheet.height, channels: 3)
        }
        print("preview: \(rows.count) subjects × up to \(views) views → \(output) (\(sheet.width)×\(sheet.height))")
    }

    /// Any 8-bit channel layout as RGBA.
    static func rgba(_ p: [UInt8], channels: Int) -> [UInt8] {
        if channels == 4 { return p }
        let n = p.count / channels
        var out = [UInt8](repeating: 255, count: n * 4)
        for i in 0..<n {
            switch channels {
            case 1: out[4 * i] = p[i]; out[4 * i + 1] = p[i]; out[4 * i + 2] = p[i]
            case 2: out[4 * i] = p[2 * i]; out[4 * i + 1] = p[2 * i]; out[4 * i + 2] = p[2 * i]; out[4 * i + 3] = p[2 * i + 1]
            default: out[4 * i] = p[3 * i]; out[4 * i + 1] = p[3 * i + 1]; out[4 * i + 2] = p[3 * i + 2]
            }
        }
        return out
    }
}
