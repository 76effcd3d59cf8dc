import Foundation
import Splatting
import XCTest
@testable import Synthesis

/// Temporary: the Splatting and Synthesis rigs must agree before one replaces the other.
final class RigEquivalenceTests: XCTestCase {
    func testBothRigsGiveTheSameWorldToCamera() {
        var worst = 0.0
        for (rig, elevation) in [(Synthesis.OrbitRig.diffusion, 0.0), (.reconstructor, 20.0)] {
            for (i, a) in rig.viewAngles.enumerated() {
                for size in [64, 96, 512] {
                    let s = rig.cameras(resolution: size)[i]
                    let p = Splatting.OrbitRig.camera(azimuthDegrees: Double(a.azimuth), elevationDegrees: elevation,
                                                      width: size, height: size)
                    XCTAssertEqual(Double(a.elevation), elevation)
                    let sw = s.w2c.flatMap { $0 }
                    for k in 0..<16 { worst = max(worst, abs(sw[k] - p.worldToCamera.elements[k])) }
                    XCTAssertEqual(Double(s.fx), p.fx, accuracy: 1e-4 * p.fx)
                    XCTAssertEqual(Double(s.fy), p.fy, accuracy: 1e-4 * p.fy)
                    XCTAssertEqual(Double(s.cx), p.cx); XCTAssertEqual(Double(s.cy), p.cy)
                }
            }
        }
        print("worst w2c difference \(worst)")
        XCTAssertLessThan(worst, 1e-5)
    }
}
