import Datasets
import Foundation
import Splatting
import Tensors
import XCTest
@testable import Synthesis

final class CameraTests: XCTestCase {
    /// Pixel coordinates (continuous) and depth of a world point, as the rasterizer maps it.
    func project(_ c: Camera, _ p: Vec3) -> (u: Float, v: Float, depth: Float) {
        let m = c.worldToCamera
        let q = (0..<3).map { r in Float(m[r, 0]) * p.x + Float(m[r, 1]) * p.y + Float(m[r, 2]) * p.z + Float(m[r, 3]) }
        return (Float(c.fx) * q[0] / q[2] + Float(c.cx), Float(c.fy) * q[1] / q[2] + Float(c.cy), q[2])
    }

    /// The synthesizer renders with Splatting's rigs: FaceLift's angles, radius 2.7, 50° fov.
    func testRigsLookAtTheOriginFromRadiusWithFaceLiftAngles() throws {
        for rig in OrbitRig.Preset.allCases {
            let cams = rig.cameras(size: 96)
            XCTAssertEqual(cams.count, [.diffusion: 6, .reconstructor: 32, .ring8: 8, .pipeline: 40][rig])
            for (i, c) in cams.enumerated() {
                let p = project(c, .zero)
                XCTAssertEqual(p.u, 48, accuracy: 1e-4); XCTAssertEqual(p.v, 48, accuracy: 1e-4)
                XCTAssertEqual(p.depth, 2.7, accuracy: 1e-5)
                XCTAssertEqual(c.fx, 48 / tan(25 * Double.pi / 180), accuracy: 1e-9)
                let elevation = asin(c.center.z / 2.7) * 180 / .pi
                let ringView = rig == .diffusion || rig == .ring8 || (rig == .pipeline && i < 8)
                XCTAssertEqual(elevation, ringView ? 0 : 20, accuracy: 1e-9, "\(rig) view \(i)")
                let azimuth = atan2(c.center.x, -c.center.y) * 180 / .pi
                XCTAssertEqual((azimuth - rig.viewAngles[i].azimuthDegrees + 540).truncatingRemainder(dividingBy: 360) - 180, 0,
                               accuracy: 1e-9, "\(rig) view \(i)")
                // World up projects upward in the image (OpenCV y down).
                XCTAssertLessThan(project(c, Vec3(0, 0, 0.3)).v, 48, "view \(i)")
            }
        }
        let front = OrbitRig.Preset.diffusion.cameras(size: 64)
        XCTAssertEqual(front[0].center.y, -2.7, accuracy: 1e-12, "azimuth 0 sits in front of the face (−y)")
        XCTAssertEqual(front[2].center.x, 2.7, accuracy: 1e-12, "azimuth 90 sees the subject's left (+x)")
        // The subject's left (+x) appears on the right of the front image.
        XCTAssertGreaterThan(project(front[0], Vec3(0.3, 0, 0)).u, 32)
        XCTAssertEqual(OrbitRig.Preset.ring8.viewAngles.map(\.azimuthDegrees), [0, 45, 90, 135, 180, 225, 270, 315])
        XCTAssertEqual(OrbitRig.Preset.pipeline.viewAngles.map(\.azimuthDegrees).prefix(9), [0, 45, 90, 135, 180, 225, 270, 315, 0])
    }
}

final class RasterizerTests: XCTestCase {
    func testSphereCoverageShadingAndAntialiasing() {
        var m = sphere(centre: .zero, radius: 0.5, rings: 48, segments: 64)
        m.paint(Vec3(repeating: 0.6))
        m.computeNormals()
        let light = Lighting(sky: .zero, ground: .zero, lights: [DirectionalLight(direction: Vec3(1, -1, 0), colour: Vec3(repeating: 1))])
        let scene = Scene(mesh: m, materials: [Material()], lighting: light)
        let cam = OrbitRig.Preset.diffusion.cameras(size: 96)[0]
        let img = Rasterizer(width: 96, height: 96, supersampling: 4).render(scene, camera: cam)
        var coverage: Float = 0, partial = 0
        for i in 0..<(96 * 96) {
            coverage += Float(img[4 * i + 3]) / 255
            if img[4 * i + 3] > 0 && img[4 * i + 3] < 255 { partial += 1 }
        }
        // Projected disc: radius fx·0.5/sqrt(2.7² − 0.5²).
        let rp = Float(cam.fx) * 0.5 / (2.7 * 2.7 - 0.25).squareRoot()
        XCTAssertEqual(coverage, .pi * rp * rp, accuracy: .pi * rp * rp * 0.02)
        XCTAssertGreaterThan(partial, 20, "edges are anti-aliased")
        // Lit from +x: the right side (image right = +x) is brighter than the left.
        let y = 48, right = (y * 96 + 48 + Int(rp * 0.6)) * 4, left = (y * 96 + 48 - Int(rp * 0.6)) * 4
        XCTAssertGreaterThan(img[right], img[left] &+ 50)
        XCTAssertEqual(img[3], 0, "background is transparent")
    }

    func testNoCracksInsideHeadSilhouettes() {
        for id in 0..<3 {
            let spec = SubjectSpec(name: "t", kind: .heads, identity: id, variant: 0, index: id)
            var o = SynthesisOptions(); o.resolution = 96
            let (scene, _) = Synthesizer.scene(for: spec, options: o)
            let r = Rasterizer(width: 96, height: 96, supersampling: 3)
            for cam in OrbitRig.Preset.diffusion.cameras(size: 96) {
                let img = r.render(scene, camera: cam)
                var cracks = 0
                for y in 1..<95 {
                    for x in 1..<95 where img[(y * 96 + x) * 4 + 3] < 250 {
                        var surrounded = true
                        for dy in -1...1 { for dx in -1...1 where img[((y + dy) * 96 + x + dx) * 4 + 3] != 255 { surrounded = false } }
                        if surrounded { cracks += 1 }
                    }
                }
                XCTAssertEqual(cracks, 0, "identity \(id): see-through pixels inside the silhouette")
            }
        }
    }
}

final class MeshTests: XCTestCase {
    /// Every undirected edge is used by exactly two triangles, once in each direction: each part
    /// is closed and consistently wound.
    func assertClosed(_ m: TriangleMesh, _ label: String) {
        var directed = Set<Int64>()
        var duplicates = 0
        for t in m.triangles {
            for (a, b) in [(t.x, t.y), (t.y, t.z), (t.z, t.x)] {
                if !directed.insert(Int64(a) << 32 | Int64(b)).inserted { duplicates += 1 }
            }
        }
        var unmatched = 0
        for e in directed where !directed.contains((e & 0xFFFF_FFFF) << 32 | e >> 32) { unmatched += 1 }
        XCTAssertEqual(duplicates, 0, "\(label): an edge is used twice in the same direction")
        XCTAssertEqual(unmatched, 0, "\(label): boundary edges (holes)")
        XCTAssertTrue(m.positions.allSatisfy { $0.x.isFinite && $0.y.isFinite && $0.z.isFinite }, "\(label): non-finite vertex")
        XCTAssertTrue(m.normals.allSatisfy { abs(length($0) - 1) < 1e-3 }, "\(label): bad normal")
        XCTAssertGreaterThan(m.signedVolume, 0, "\(label): wound inward")
    }

    func testHeadAndObjectMeshesAreClosedFiniteAndOutward() {
        var o = SynthesisOptions()
        for id in 0..<6 {
            let (scene, meta) = Synthesizer.scene(for: SubjectSpec(name: "h", kind: .heads, identity: id, variant: id, index: 0),
                                                  options: o, detail: 0.4)
            assertClosed(scene.mesh, "head \(id) \(meta.head!.variant.hairStyle)")
            let (lo, hi) = scene.mesh.bounds
            XCTAssertLessThan(max(abs(lo.x), abs(hi.x)), 1.3)
        }
        o.kind = .objects
        for i in 0..<6 {
            let (scene, _) = Synthesizer.scene(for: SubjectSpec(name: "o", kind: .objects, identity: 0, variant: 0, index: i),
                                               options: o, detail: 0.5)
            assertClosed(scene.mesh, "object \(i)")
            let far = scene.mesh.positions.map { length($0) }.max()!
            XCTAssertLessThanOrEqual(far, ObjectBuilder.fitRadius * 1.001)
        }
        for (label, m) in [("torus", torus(major: 1, minor: 0.3)), ("rod", rod(from: .zero, to: Vec3(1, 2, 3), radius: 0.1)),
                           ("mirrored", sphere(centre: Vec3(1, 0, 0), radius: 0.5).mirroredX())] {
            var m = m; m.computeNormals(); assertClosed(m, label)
        }
    }

    func testEveryStyleAndAccessoryBuildsAClosedMesh() {
        var r = SynthRandom(seed: 0, purpose: 9, index: 0)
        let identity = HeadIdentity.random(&r)
        var variants: [HeadVariant] = []
        let base = HeadVariant.random(&r)
        for h in HairStyle.allCases { var v = base; v.hairStyle = h; variants.append(v) }
        for f in FacialHair.allCases { var v = base; v.facialHair = f; variants.append(v) }
        for c in Clothing.allCases { var v = base; v.clothing = c; variants.append(v) }
        for a in [Accessory.glasses, .sunglasses, .earrings, .hoopEarrings] { var v = base; v.accessories = [a]; variants.append(v) }
        for (i, v) in variants.enumerated() {
            var b = HeadBuilder(identity: identity, variant: v)
            b.detail = 0.3
            assertClosed(b.build(lighting: .studio).mesh, "variant \(i): \(v.hairStyle) \(v.facialHair) \(v.clothing) \(v.accessories)")
        }
    }

    /// Expressions move the face and leave the back of the head alone.
    func testExpressionsDeformTheFaceOnly() {
        var r = SynthRandom(seed: 0, purpose: 9, index: 1)
        let identity = HeadIdentity.random(&r)
        var neutral = HeadVariant.random(&r)
        neutral.expression = .neutral; neutral.yaw = 0; neutral.pitch = 0; neutral.roll = 0
        neutral.hairStyle = .bald; neutral.facialHair = .none; neutral.accessories = []
        func skin(_ v: HeadVariant) -> [Vec3] {
            var b = HeadBuilder(identity: identity, variant: v); b.detail = 0.3
            let m = b.build(lighting: .studio).mesh
            return Array(m.positions[0..<m.triangleMaterial.firstIndex(where: { $0 != 0 }).map { Int(m.triangles[$0].x) }!])
        }
        let n = skin(neutral)
        for e in [Expression(smile: 1, mouthOpen: 0, browRaise: 0, eyeClosure: 0),
                  Expression(smile: 0, mouthOpen: 1, browRaise: 0, eyeClosure: 0),
                  Expression(smile: 0, mouthOpen: 0, browRaise: 1, eyeClosure: 0)] {
            var v = neutral; v.expression = e
            let d = skin(v)
            XCTAssertEqual(d.count, n.count)
            var front: Float = 0, back: Float = 0
            for i in n.indices {
                let moved = length(d[i] - n[i])
                if n[i].y > 0.2 { back = max(back, moved) } else if n[i].y < -0.3 { front = max(front, moved) }
            }
            XCTAssertGreaterThan(front, 0.002, "\(e) moves the face")
            XCTAssertEqual(back, 0, "\(e) leaves the back of the head")
        }
    }

    func testPLYLayout() throws {
        var m = superellipsoid(radii: Vec3(1, 2, 3), rings: 6, segments: 8)
        m.paint(Vec3(1, 0, 0))
        let data = m.plyData()
        let headerEnd = data.range(of: Data("end_header\n".utf8))!.upperBound
        let header = String(decoding: data[..<headerEnd], as: UTF8.self)
        XCTAssertTrue(header.contains("format binary_little_endian 1.0"))
        XCTAssertTrue(header.contains("element vertex \(m.vertexCount)"))
        XCTAssertTrue(header.contains("element face \(m.triangleCount)"))
        XCTAssertEqual(data.count - headerEnd, m.vertexCount * 15 + m.triangleCount * 13)
        // First vertex: the south pole (0, 0, −3), red.
        let z = data.subdata(in: headerEnd + 8 ..< headerEnd + 12).withUnsafeBytes { Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        XCTAssertEqual(z, -3, accuracy: 1e-6)
        XCTAssertEqual(data[headerEnd + 12], 255)
    }
}

final class DatasetTests: XCTestCase {
    func temporary() -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("synth-test-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: u) }
        return u
    }

    func files(_ root: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)!
        for case let u as URL in e where !u.hasDirectoryPath {
            out[String(u.path.dropFirst(root.path.count))] = try Data(contentsOf: u)
        }
        return out
    }

    func testSameSeedGivesIdenticalBytesAndSubsetsAgree() throws {
        var o = SynthesisOptions()
        o.identities = 2; o.variants = 2; o.resolution = 64; o.rig = .diffusion; o.meshDetail = 0.3; o.seed = 7
        let a = temporary(), b = temporary(), c = temporary()
        let summary = try Synthesizer.run(o, root: a)
        XCTAssertEqual(summary.subjectsDone, 4); XCTAssertEqual(summary.imagesDone, 24)
        let threads = Parallel.threads
        Parallel.threads = 1
        _ = try Synthesizer.run(o, root: b)
        Parallel.threads = threads
        let fa = try files(a), fb = try files(b)
        XCTAssertEqual(fa.count, 4 * (6 + 3))
        XCTAssertEqual(fa, fb, "same seed, same bytes (2 threads vs 1)")
        // A shard holding one subject reproduces it exactly.
        o.subset = 3..<4
        _ = try Synthesizer.run(o, root: c)
        let fc = try files(c)
        XCTAssertEqual(fc.count, 9)
        for (k, v) in fc { XCTAssertEqual(fa[k], v, k) }
        // Layout and contents.
        let subject = a.appendingPathComponent("id0001_var01")
        let cams = try CameraFile.read(subject.appendingPathComponent("opencv_cameras.json").path)
        XCTAssertEqual(cams.id, "id0001_var01")
        XCTAssertEqual(cams.cameras, OrbitRig.Preset.diffusion.cameras(size: 64), "the rig's cameras, bit for bit")
        XCTAssertEqual(cams.frames.map(\.filePath), (0..<6).map(CameraFrame.imagePath))
        let png = try PNG.info(subject.appendingPathComponent("images/cam_005.png").path)
        XCTAssertEqual(png.width, 64); XCTAssertEqual(png.channels, 4)
        let meta = try JSONDecoder().decode(SubjectMeta.self, from: Data(contentsOf: subject.appendingPathComponent("meta.json")))
        XCTAssertEqual(meta.identity, 1); XCTAssertEqual(meta.variant, 1); XCTAssertEqual(meta.kind, .heads)
        XCTAssertNotNil(meta.head); XCTAssertEqual(meta.mesh, "mesh.ply")
        // A different seed changes the data.
        o.subset = nil; o.seed = 8
        let d = temporary()
        _ = try Synthesizer.run(o, root: d)
        XCTAssertNotEqual(try files(d)["/id0000_var00/images/cam_000.png"], fa["/id0000_var00/images/cam_000.png"])
    }

    func testIdentitiesAndVariantsDiffer() {
        let o = SynthesisOptions()
        func meta(_ i: Int, _ v: Int) -> SubjectMeta {
            Synthesizer.scene(for: SubjectSpec(name: "x", kind: .heads, identity: i, variant: v, index: 0), options: o, detail: 0.2).1
        }
        let a = meta(0, 0), b = meta(1, 0), a1 = meta(0, 1)
        XCTAssertNotEqual(a.head!.identity, b.head!.identity)
        XCTAssertEqual(a.head!.identity, a1.head!.identity, "variants share their identity's shape")
        XCTAssertNotEqual(a.head!.variant.hairColour, a1.head!.variant.hairColour)
        // Across many identities the styles actually vary.
        let styles = Set((0..<40).map { meta($0, 0).head!.variant.hairStyle })
        XCTAssertGreaterThanOrEqual(styles.count, 5)
    }

    /// Every view shows one plausible, centred subject: coverage in a sane range, centroid near
    /// the image centre, head at the top, nothing touching the top edge.
    func testSilhouettesArePlausibleFromEveryAzimuth() {
        let res = 64
        for kind in SubjectKind.allCases {
            var o = SynthesisOptions(); o.kind = kind; o.resolution = res
            let r = Rasterizer(width: res, height: res, supersampling: 3)
            for s in 0..<3 {
                let (scene, _) = Synthesizer.scene(for: SubjectSpec(name: "x", kind: kind, identity: s, variant: s, index: s), options: o)
                for (v, cam) in OrbitRig.Preset.reconstructor.cameras(size: res).enumerated() where v % 4 == 0 {
                    let img = r.render(scene, camera: cam)
                    var cover: Float = 0, cx: Float = 0, cy: Float = 0, top = 0
                    for y in 0..<res {
                        for x in 0..<res {
                            let a = Float(img[(y * res + x) * 4 + 3]) / 255
                            cover += a; cx += a * (Float(x) + 0.5); cy += a * (Float(y) + 0.5)
                            if y == 0 && a > 0 { top += 1 }
                        }
                    }
                    let fraction = cover / Float(res * res)
                    cx /= cover * Float(res); cy /= cover * Float(res)
                    let label = "\(kind) \(s) view \(v)"
                    XCTAssertEqual(top, 0, "\(label) touches the top edge")
                    switch kind {
                    case .heads:
                        XCTAssertTrue((0.15...0.6).contains(fraction), "\(label) coverage \(fraction)")
                        XCTAssertEqual(cx, 0.5, accuracy: 0.1, label)
                        XCTAssertTrue((0.45...0.8).contains(cy), "\(label) vertical centroid \(cy)")
                    case .objects:
                        XCTAssertTrue((0.03...0.6).contains(fraction), "\(label) coverage \(fraction)")
                        XCTAssertEqual(cx, 0.5, accuracy: 0.2, label)
                        XCTAssertEqual(cy, 0.5, accuracy: 0.2, label)
                    }
                }
            }
        }
    }

    func testOptionsAreValidated() {
        var o = SynthesisOptions(); o.resolution = 0
        XCTAssertThrowsError(try Synthesizer.run(o, root: temporary())) { XCTAssertTrue("\($0)".contains("resolution")) }
        o = SynthesisOptions(); o.identities = 0
        XCTAssertThrowsError(try o.validate())
    }

    func testContactSheetComposites() {
        var sheet = ContactSheet(tileWidth: 4, tileHeight: 4, columns: 2, rows: 1, gap: 1, background: (10, 20, 30))
        let red = [UInt8](repeating: 0, count: 64).enumerated().map { $0.offset % 4 == 0 || $0.offset % 4 == 3 ? 255 : 0 }.map(UInt8.init)
        sheet.place(rgba: red, width: 4, height: 4, row: 0, column: 1)
        XCTAssertEqual(sheet.width, 11); XCTAssertEqual(sheet.height, 6)
        let at = { (x: Int, y: Int) in Array(sheet.pixels[(y * 11 + x) * 3 ..< (y * 11 + x) * 3 + 3]) }
        XCTAssertEqual(at(7, 2), [255, 0, 0])
        XCTAssertEqual(at(2, 2), [10, 20, 30])
    }
}
