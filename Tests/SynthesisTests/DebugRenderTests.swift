import XCTest
import Foundation
import Datasets
@testable import Synthesis

// TEMPORARY visual debugging: writes a sheet to /tmp/synth-debug.
final class DebugRenderTests: XCTestCase {
    func testDebugRender() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["SYNTH_DEBUG"] != nil else { return }
        let res = Int(env["SYNTH_RES"] ?? "128")!
        let ids = Int(env["SYNTH_IDS"] ?? "4")!
        let first = Int(env["SYNTH_FIRST"] ?? "0")!
        let views = (env["SYNTH_VIEWS"] ?? "0,3,8,12,16,24").split(separator: ",").map { Int($0)! }
        var sheet = ContactSheet(tileWidth: res * 2, tileHeight: res * 2, columns: views.count, rows: ids)
        let t0 = Date()
        for row in 0..<ids {
            let id = first + row
            var ri = SynthRandom(seed: 1, purpose: 1, index: UInt64(id))
            var rv = SynthRandom(seed: 1, purpose: 2, index: UInt64(id))
            let identity = HeadIdentity.random(&ri)
            let variant = HeadVariant.random(&rv)
            let scene = HeadBuilder(identity: identity, variant: variant).build(lighting: .random(&rv))
            let cams = OrbitRig.reconstructor.cameras(resolution: res)
            let r = Rasterizer(width: res, height: res, supersampling: Rasterizer.defaultSupersampling(resolution: res))
            for (c, v) in views.enumerated() {
                sheet.place(rgba: r.render(scene, camera: cams[v]), width: res, height: res, row: row, column: c)
            }
            print("id \(id): \(variant.hairStyle) \(variant.facialHair) \(variant.clothing) \(variant.expression) tris \(scene.mesh.triangleCount)")
        }
        print("elapsed", Date().timeIntervalSince(t0))
        try FileManager.default.createDirectory(atPath: "/tmp/synth-debug", withIntermediateDirectories: true)
        try sheet.pixels.withUnsafeBufferPointer {
            try PNG.write(env["SYNTH_OUT"] ?? "/tmp/synth-debug/sheet.png", uint8: $0, width: sheet.width, height: sheet.height, channels: 3)
        }
    }
}
