import Foundation
import Splatting
import Tensors

/// A z-buffer triangle rasterizer with supersampling. Two passes: visibility (nearest triangle
/// per sample, by interpolated 1/z, with a top-left fill rule so shared edges are covered once),
/// then shading of visible samples only (perspective-correct attributes, hemispherical ambient,
/// wrapped Lambert and Blinn–Phong). A pixel's alpha is its sample coverage and its colour the
/// mean over covered samples: straight-alpha RGBA with a transparent background.
///
/// One instance per thread: it owns its sample buffers and reuses them across views.
public final class Rasterizer {
    public let width: Int, height: Int
    /// Samples per pixel along each axis.
    public let supersampling: Int
    private let samplesX: Int, samplesY: Int
    private var triangleAt: [Int32]
    private var inverseDepth: [Float]
    private var screen: [SIMD3<Float>] = []   // (x, y) in sample units, 1/z
    private var cameraSpace: [Vec3] = []

    public init(width: Int, height: Int, supersampling: Int) {
        check(width > 0 && height > 0 && supersampling >= 1,
              "Rasterizer: size \(width)×\(height) and supersampling \(supersampling) must be positive")
        self.width = width; self.height = height; self.supersampling = supersampling
        samplesX = width * supersampling; samplesY = height * supersampling
        triangleAt = [Int32](repeating: -1, count: samplesX * samplesY)
        inverseDepth = [Float](repeating: 0, count: samplesX * samplesY)
    }

    /// The default supersampling for a resolution: about 512 samples across, at least 2×2.
    public static func defaultSupersampling(resolution: Int) -> Int { max(2, min(4, 512 / max(resolution, 1))) }

    /// Renders `scene` seen by `camera` into `rgba` (width·height·4 bytes, sRGB, straight alpha).
    public func render(_ scene: Scene, camera: Camera, into rgba: UnsafeMutablePointer<UInt8>) {
        check(camera.width == width && camera.height == height, "Rasterizer.render: camera \(camera.width)×\(camera.height) differs from the rasterizer's \(width)×\(height)")
        let m = scene.mesh
        check(m.normals.count == m.vertexCount && m.albedo.count == m.vertexCount && m.occlusion.count == m.vertexCount
              && m.patternCoordinates.count == m.vertexCount && m.triangleMaterial.count == m.triangleCount,
              "mesh attributes do not match its vertex/triangle counts (call computeNormals, paint)")
        check(m.triangleMaterial.allSatisfy { Int($0) < scene.materials.count }, "triangle material index out of range")
        let view = ViewTransform(camera)
        rasterize(scene.mesh, camera: camera, view: view)
        shade(scene, eye: view.eye, into: rgba)
    }

    /// Convenience: a fresh RGBA byte array.
    public func render(_ scene: Scene, camera: Camera) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: width * height * 4)
        out.withUnsafeMutableBufferPointer { render(scene, camera: camera, into: $0.baseAddress!) }
        return out
    }

    // MARK: visibility

    private func rasterize(_ mesh: TriangleMesh, camera: Camera, view: ViewTransform) {
        let n = mesh.vertexCount
        if screen.count != n {
            screen = [SIMD3<Float>](repeating: .zero, count: n)
            cameraSpace = [Vec3](repeating: .zero, count: n)
        }
        let s = Float(supersampling)
        let (fx, fy, cx, cy) = (Float(camera.fx) * s, Float(camera.fy) * s, Float(camera.cx) * s, Float(camera.cy) * s)
        let near: Float = 0.01
        for i in 0..<n {
            let c = view.toCamera(mesh.positions[i])
            cameraSpace[i] = c
            let iz = 1 / max(c.z, near)
            screen[i] = SIMD3(fx * c.x * iz + cx, fy * c.y * iz + cy, iz)
        }
        let sw = samplesX, sh = samplesY
        triangleAt.withUnsafeMutableBufferPointer { tri in
            inverseDepth.withUnsafeMutableBufferPointer { depth in
                for i in 0..<tri.count { tri[i] = -1; depth[i] = 0 }
                screen.withUnsafeBufferPointer { scr in
                    cameraSpace.withUnsafeBufferPointer { cam in
                        mesh.triangles.withUnsafeBufferPointer { tris in
                            for t in 0..<tris.count {
                                let ids = tris[t]
                                let i0 = Int(ids.x), i1 = Int(ids.y), i2 = Int(ids.z)
                                let ca = cam[i0], cb = cam[i1], cc = cam[i2]
                                if ca.z <= near || cb.z <= near || cc.z <= near { continue }
                                // Back faces: the outward normal points away from the eye.
                                if dot(cross(cb - ca, cc - ca), ca) >= 0 { continue }
                                var a = scr[i0], b = scr[i1], c = scr[i2]
                                var area = (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
                                if area == 0 { continue }
                                if area < 0 { swap(&b, &c); area = -area }
                                let x0 = max(0, Int((min(a.x, min(b.x, c.x)) - 0.5).rounded(.up)))
                                let x1 = min(sw - 1, Int((max(a.x, max(b.x, c.x)) - 0.5).rounded(.down)))
                                let y0 = max(0, Int((min(a.y, min(b.y, c.y)) - 0.5).rounded(.up)))
                                let y1 = min(sh - 1, Int((max(a.y, max(b.y, c.y)) - 0.5).rounded(.down)))
                                if x0 > x1 || y0 > y1 { continue }
                                let invArea = 1 / area
                                // Edge functions, each the weight of the opposite vertex.
                                // An edge owns its samples exactly on it when it is a "top-left" edge.
                                let ownBC = (c.y - b.y) > 0 || ((c.y - b.y) == 0 && (c.x - b.x) < 0)
                                let ownCA = (a.y - c.y) > 0 || ((a.y - c.y) == 0 && (a.x - c.x) < 0)
                                let ownAB = (b.y - a.y) > 0 || ((b.y - a.y) == 0 && (b.x - a.x) < 0)
                                for y in y0...y1 {
                                    let py = Float(y) + 0.5
                                    let px0 = Float(x0) + 0.5
                                    var wa = (c.x - b.x) * (py - b.y) - (c.y - b.y) * (px0 - b.x)
                                    var wb = (a.x - c.x) * (py - c.y) - (a.y - c.y) * (px0 - c.x)
                                    var wc = (b.x - a.x) * (py - a.y) - (b.y - a.y) * (px0 - a.x)
                                    let da = -(c.y - b.y), db = -(a.y - c.y), dc = -(b.y - a.y)
                                    let row = y * sw
                                    for x in x0...x1 {
                                        let inside = (wa > 0 || (wa == 0 && ownBC)) && (wb > 0 || (wb == 0 && ownCA))
                                            && (wc > 0 || (wc == 0 && ownAB))
                                        if inside {
                                            let iz = (wa * a.z + wb * b.z + wc * c.z) * invArea
                                            if iz > depth[row + x] { depth[row + x] = iz; tri[row + x] = Int32(t) }
                                        }
                                        wa += da; wb += db; wc += dc
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: shading

    private func shade(_ scene: Scene, eye: Vec3, into rgba: UnsafeMutablePointer<UInt8>) {
        let mesh = scene.mesh, materials = scene.materials, light = scene.lighting
        let ss = supersampling, sw = samplesX
        let perPixel = Float(ss * ss)
        triangleAt.withUnsafeBufferPointer { tri in
            screen.withUnsafeBufferPointer { scr in
                for py in 0..<height {
                    for px in 0..<width {
                        var sum = Vec3.zero
                        var covered = 0
                        for sy in 0..<ss {
                            for sx in 0..<ss {
                                let x = px * ss + sx, y = py * ss + sy
                                let t = Int(tri[y * sw + x])
                                if t < 0 { continue }
                                covered += 1
                                let ids = mesh.triangles[t]
                                let i0 = Int(ids.x), i1 = Int(ids.y), i2 = Int(ids.z)
                                let a = scr[i0], b = scr[i1], c = scr[i2]
                                let qx = Float(x) + 0.5, qy = Float(y) + 0.5
                                // Screen-space barycentrics, then perspective correction by 1/z.
                                let la = ((c.x - b.x) * (qy - b.y) - (c.y - b.y) * (qx - b.x)) * a.z
                                let lb = ((a.x - c.x) * (qy - c.y) - (a.y - c.y) * (qx - c.x)) * b.z
                                let lc = ((b.x - a.x) * (qy - a.y) - (b.y - a.y) * (qx - a.x)) * c.z
                                let total = la + lb + lc
                                let (ba, bb, bc): (Float, Float, Float) = total != 0 ? (la / total, lb / total, lc / total) : (1, 0, 0)
                                let material = materials[Int(mesh.triangleMaterial[t])]
                                let p = ba * mesh.positions[i0] + bb * mesh.positions[i1] + bc * mesh.positions[i2]
                                var n = normalize(ba * mesh.normals[i0] + bb * mesh.normals[i1] + bc * mesh.normals[i2])
                                var albedo = ba * mesh.albedo[i0] + bb * mesh.albedo[i1] + bc * mesh.albedo[i2]
                                let occ = ba * mesh.occlusion[i0] + bb * mesh.occlusion[i1] + bc * mesh.occlusion[i2]
                                if material.pattern != .none {
                                    let q = ba * mesh.patternCoordinates[i0] + bb * mesh.patternCoordinates[i1]
                                        + bc * mesh.patternCoordinates[i2]
                                    albedo = mix(albedo, material.secondColour, material.patternWeight(q))
                                }
                                let v = normalize(eye - p)
                                // Interpolated normals can face away at silhouettes: bend them back.
                                let nv = dot(n, v)
                                if nv < 0.05 { n = normalize(n + (0.05 - nv) * v) }
                                let up = 0.5 + 0.5 * n.z
                                var diffuse = mix(light.ground, light.sky, up) * occ
                                var specular = Vec3.zero
                                let shadowing = 0.45 + 0.55 * occ
                                for l in light.lights {
                                    let nl = dot(n, l.direction)
                                    let w = material.wrap
                                    let d = max(0, (nl + w) / (1 + w))
                                    diffuse += l.colour * (d * shadowing)
                                    if nl > 0 && material.specular > 0 {
                                        let h = normalize(l.direction + v)
                                        specular += l.colour * (material.specular * powf(max(0, dot(n, h)), material.shininess) * occ)
                                    }
                                }
                                sum += albedo * diffuse + specular
                            }
                        }
                        let o = (py * width + px) * 4
                        if covered == 0 {
                            rgba[o] = 0; rgba[o + 1] = 0; rgba[o + 2] = 0; rgba[o + 3] = 0
                            continue
                        }
                        let mean = sum / Float(covered)
                        rgba[o] = Rasterizer.encode(mean.x)
                        rgba[o + 1] = Rasterizer.encode(mean.y)
                        rgba[o + 2] = Rasterizer.encode(mean.z)
                        rgba[o + 3] = UInt8((Float(covered) / perPixel * 255).rounded())
                    }
                }
            }
        }
    }

    /// Linear light → 8-bit gamma 2.2 with a soft shoulder so highlights roll off instead of clipping.
    @inline(__always) static func encode(_ x: Float) -> UInt8 {
        let toned = x / (1 + 0.15 * x) * 1.15
        return UInt8((powf(clamp01(toned), 1 / 2.2) * 255).rounded())
    }
}

/// A camera's world→camera transform in Float, the precision of the meshes, taken once per view.
private struct ViewTransform {
    var rotation: Mat3, translation: Vec3
    /// Camera centre in world coordinates.
    var eye: Vec3

    init(_ camera: Camera) {
        let m = camera.worldToCamera, c = camera.center
        let row = { (r: Int) in Vec3(Float(m[r, 0]), Float(m[r, 1]), Float(m[r, 2])) }
        rotation = Mat3(rows: row(0), row(1), row(2))
        translation = Vec3(Float(m[0, 3]), Float(m[1, 3]), Float(m[2, 3]))
        eye = Vec3(Float(c.x), Float(c.y), Float(c.z))
    }

    @inline(__always) func toCamera(_ p: Vec3) -> Vec3 { rotation.apply(p) + translation }
}
