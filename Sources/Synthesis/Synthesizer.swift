import Datasets
import Foundation
import Splatting
import Tensors

/// Generates a dataset of rendered subjects in FaceLift's layout:
///
///     <root>/<subject>/images/cam_XXX.png   RGBA, transparent background
///     <root>/<subject>/opencv_cameras.json
///     <root>/<subject>/meta.json
///     <root>/<subject>/mesh.ply             surface mesh (world frame), unless disabled
///
/// Heads are identities × variants named `id0007_var12`; objects are `obj00042`. Every subject
/// draws from its own counter-based generator keyed by (seed, identity, variant) or (seed,
/// index), so the same seed gives the same bytes whatever the thread count or subset.
public struct SynthesisOptions: Sendable {
    public var kind: SubjectKind = .heads
    public var seed: UInt64 = 0
    public var identities: Int = 200
    public var variants: Int = 50
    /// Objects to make (kind objects); defaults to identities × variants.
    public var objectCount: Int? = nil
    public var rig: OrbitRig.Preset = .reconstructor
    public var resolution: Int = 512
    /// Samples per pixel along each axis; nil picks `Rasterizer.defaultSupersampling`.
    public var supersampling: Int? = nil
    /// Detail of the saved mesh relative to the rendered one (0: no mesh file).
    public var meshDetail: Float = 0.5
    /// Only subjects with index in this range (for sharding a big run over machines).
    public var subset: Range<Int>? = nil

    public init() {}

    public func validate() throws {
        guard (16...2048).contains(resolution) else { throw SynthesisError.invalidArgument("resolution \(resolution) must be in 16…2048") }
        guard identities > 0, variants > 0 else { throw SynthesisError.invalidArgument("identities and variants must be positive") }
        // Variant generators are keyed by identity << 20 | variant.
        guard variants <= 1 << 20 else { throw SynthesisError.invalidArgument("at most \(1 << 20) variants per identity") }
        if let n = objectCount, n <= 0 { throw SynthesisError.invalidArgument("object count must be positive") }
        if let s = supersampling, !(1...8).contains(s) { throw SynthesisError.invalidArgument("supersampling \(s) must be in 1…8") }
        guard meshDetail >= 0 && meshDetail <= 2 else { throw SynthesisError.invalidArgument("mesh detail must be in 0…2") }
    }

    public var effectiveSupersampling: Int { supersampling ?? Rasterizer.defaultSupersampling(resolution: resolution) }
}

/// One subject to generate.
public struct SubjectSpec: Sendable, Equatable {
    public var name: String
    public var kind: SubjectKind
    public var identity: Int
    public var variant: Int
    public var index: Int
}

public struct SynthesisProgress: Sendable {
    public var subjectsDone: Int, subjectsTotal: Int, imagesDone: Int, seconds: Double
    public var imagesPerSecond: Double { seconds > 0 ? Double(imagesDone) / seconds : 0 }
    public var etaSeconds: Double {
        subjectsDone > 0 ? seconds / Double(subjectsDone) * Double(subjectsTotal - subjectsDone) : .infinity
    }
}

public enum Synthesizer {
    static let identityPurpose: UInt64 = 1, variantPurpose: UInt64 = 2, objectPurpose: UInt64 = 3

    public static func subjects(_ o: SynthesisOptions) -> [SubjectSpec] {
        var all: [SubjectSpec] = []
        switch o.kind {
        case .heads:
            for i in 0..<o.identities {
                for v in 0..<o.variants {
                    all.append(SubjectSpec(name: String(format: "id%04d_var%02d", i, v), kind: .heads, identity: i, variant: v,
                                           index: i * o.variants + v))
                }
            }
        case .objects:
            let n = o.objectCount ?? o.identities * o.variants
            all = (0..<n).map { SubjectSpec(name: String(format: "obj%05d", $0), kind: .objects, identity: 0, variant: 0, index: $0) }
        }
        if let r = o.subset { all = all.filter { r.contains($0.index) } }
        return all
    }

    /// The scene of a subject and its metadata (without mesh fields).
    public static func scene(for s: SubjectSpec, options o: SynthesisOptions, detail: Float = 1) -> (Scene, SubjectMeta) {
        var meta = SubjectMeta(subject: s.name, kind: s.kind, seed: o.seed, identity: nil, variant: nil, index: nil, rig: o.rig,
                               resolution: o.resolution, supersampling: o.effectiveSupersampling, views: o.rig.viewCount,
                               conventions: SubjectMeta.conventionText, head: nil, object: nil,
                               lighting: .studio, mesh: nil, meshVertices: nil, meshTriangles: nil)
        switch s.kind {
        case .heads:
            var ri = SynthRandom(seed: o.seed, purpose: identityPurpose, index: UInt64(s.identity))
            var rv = SynthRandom(seed: o.seed, purpose: variantPurpose, index: UInt64(s.identity) << 20 | UInt64(s.variant))
            let identity = HeadIdentity.random(&ri)
            let variant = HeadVariant.random(&rv)
            let lighting = Lighting.random(&rv)
            var builder = HeadBuilder(identity: identity, variant: variant)
            builder.detail = detail
            meta.identity = s.identity; meta.variant = s.variant
            meta.head = .init(identity: identity, variant: variant)
            meta.lighting = lighting
            return (builder.build(lighting: lighting), meta)
        case .objects:
            var r = SynthRandom(seed: o.seed, purpose: objectPurpose, index: UInt64(s.index))
            let params = ObjectParameters.random(&r)
            let lighting = Lighting.random(&r)
            let (scene, fitted) = ObjectBuilder.build(params, lighting: lighting, detail: detail)
            meta.index = s.index
            meta.object = fitted
            meta.lighting = lighting
            return (scene, meta)
        }
    }

    /// Renders and writes one subject folder; returns the number of images written.
    @discardableResult
    public static func write(_ s: SubjectSpec, options o: SynthesisOptions, root: URL, rasterizer: Rasterizer) throws -> Int {
        let (scene, baseMeta) = scene(for: s, options: o)
        var meta = baseMeta
        let folder = root.appendingPathComponent(s.name)
        let images = folder.appendingPathComponent("images")
        do { try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true) } catch {
            throw SynthesisError.io("cannot create \(images.path): \(error.localizedDescription)")
        }
        let cameras = o.rig.cameras(size: o.resolution)
        var rgba = [UInt8](repeating: 0, count: o.resolution * o.resolution * 4)
        for (v, camera) in cameras.enumerated() {
            try rgba.withUnsafeMutableBufferPointer { buffer in
                rasterizer.render(scene, camera: camera, into: buffer.baseAddress!)
                try PNG.write(folder.appendingPathComponent(CameraFrame.imagePath(view: v)).path,
                              uint8: UnsafeBufferPointer(buffer), width: o.resolution, height: o.resolution, channels: 4)
            }
        }
        if o.meshDetail > 0 {
            let mesh = o.meshDetail == 1 ? scene.mesh : Synthesizer.scene(for: s, options: o, detail: o.meshDetail).0.mesh
            try AtomicFile.write(mesh.plyData(), to: folder.appendingPathComponent("mesh.ply").path)
            meta.mesh = "mesh.ply"; meta.meshVertices = mesh.vertexCount; meta.meshTriangles = mesh.triangleCount
        }
        try CameraFile(id: s.name, cameras: cameras).write(folder.appendingPathComponent("opencv_cameras.json").path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(encoder.encode(meta), to: folder.appendingPathComponent("meta.json").path)
        return cameras.count
    }

    /// Generates every subject of `options` under `root`, across `Parallel.threads` threads,
    /// calling `progress` (from any thread, serialised) after each subject.
    public static func run(_ o: SynthesisOptions, root: URL, progress: ((SynthesisProgress) -> Void)? = nil) throws -> SynthesisProgress {
        try o.validate()
        let specs = subjects(o)
        let ss = o.effectiveSupersampling
        let lock = NSLock()
        var done = 0, images = 0
        var firstError: Error?
        let start = Clock.now
        Parallel.forEach(specs.count) { i in
            lock.lock(); let failed = firstError != nil; lock.unlock()
            if failed { return }
            do {
                let r = Rasterizer(width: o.resolution, height: o.resolution, supersampling: ss)
                let n = try write(specs[i], options: o, root: root, rasterizer: r)
                lock.lock()
                done += 1; images += n
                let p = SynthesisProgress(subjectsDone: done, subjectsTotal: specs.count, imagesDone: images,
                                          seconds: Clock.seconds(since: start))
                progress?(p)
                lock.unlock()
            } catch {
                lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
            }
        }
        if let e = firstError { throw e }
        return SynthesisProgress(subjectsDone: done, subjectsTotal: specs.count, imagesDone: images, seconds: Clock.seconds(since: start))
    }
}
