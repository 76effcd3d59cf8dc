import ArgumentParser
import Foundation
import Splatting
import Synthesis
import Tensors

extension OrbitRig.Preset: ExpressibleByArgument {}
extension SubjectKind: ExpressibleByArgument {}

/// `data-tools synth`: procedural heads (identities × variants) or general objects, rendered with
/// FaceLift's rigs into render folders.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Render procedural heads or objects in FaceLift's folder layout.",
        discussion: """
            Writes <out>/<subject>/images/cam_XXX.png (RGBA), opencv_cameras.json, meta.json and mesh.ply.
            The same --seed always gives the same files. Heads face world -y; azimuth 0 is the front of the face.
            """)

    @Option(name: [.customLong("out"), .short], help: "Output root folder (as `convert --out`).")
    var output: String

    @Option(help: "heads or objects.")
    var kind: SubjectKind = .heads

    @Option(help: "Number of head identities.")
    var identities: Int = 200

    @Option(help: "Appearance variants per identity.")
    var variants: Int = 50

    @Option(help: "Number of objects (kind objects; default identities × variants).")
    var count: Int?

    @Option(help: "diffusion (6 views, 0° elevation), reconstructor (32 views, 20° elevation), ring8 (8 views, 0° elevation, 45° apart) or pipeline (ring8 then reconstructor, 40 views).")
    var rig: OrbitRig.Preset = .reconstructor

    @Option(help: "Image width and height in pixels (64 to 512 typical).")
    var resolution: Int = 512

    @Option(help: "Generator seed.")
    var seed: UInt64 = 0

    @Option(help: "Supersampling per axis (default: about 512 samples across, 2 to 4).")
    var supersampling: Int?

    @Option(help: "Saved mesh detail relative to the rendered mesh; 0 skips mesh.ply.")
    var meshDetail: Float = 0.5

    @Option(help: "Generate only subjects whose index is in [first, first+limit) (sharding).")
    var first: Int = 0

    @Option(help: "Maximum number of subjects (with --first).")
    var limit: Int?

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func run() throws {
        if let t = threads { Parallel.threads = t }
        var o = SynthesisOptions()
        o.kind = kind; o.seed = seed; o.identities = identities; o.variants = variants; o.objectCount = count
        o.rig = rig; o.resolution = resolution; o.supersampling = supersampling; o.meshDetail = meshDetail
        if first != 0 || limit != nil {
            guard first >= 0, (limit ?? 1) > 0 else { throw ValidationError("--first must be ≥ 0 and --limit > 0") }
            o.subset = first ..< (limit.map { first + $0 } ?? Int.max)
        }
        let root = URL(fileURLWithPath: output)
        do { try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true) } catch {
            throw ValidationError("cannot create the output folder \(output): \(error.localizedDescription)")
        }
        let total = Synthesizer.subjects(o).count
        let ss = o.effectiveSupersampling
        let banner = "synth: \(total) \(kind.rawValue) subjects × \(rig.viewCount) views at \(resolution)² "
            + "(\(ss)×\(ss) SSAA) on \(Parallel.threads) threads → \(output)\n"
        FileHandle.standardError.write(Data(banner.utf8))
        var lastReport = -1.0
        let summary = try Synthesizer.run(o, root: root) { p in
            if p.seconds - lastReport >= 1 || p.subjectsDone == p.subjectsTotal {
                lastReport = p.seconds
                FileHandle.standardError.write(Data(SynthCommand.progressLine(p).utf8))
            }
        }
        print(String(format: "synth: %d subjects, %d images in %.1f s: %.1f images/s", summary.subjectsDone, summary.imagesDone,
                     summary.seconds, summary.imagesPerSecond))
    }

    static func progressLine(_ p: SynthesisProgress) -> String {
        let eta = p.etaSeconds.isFinite ? String(format: "%d:%02d", Int(p.etaSeconds) / 60, Int(p.etaSeconds) % 60) : "?"
        return String(format: "  %d/%d subjects  %d images  %.1f images/s  ETA %@\n", p.subjectsDone, p.subjectsTotal, p.imagesDone,
                      p.imagesPerSecond, eta)
    }
}
