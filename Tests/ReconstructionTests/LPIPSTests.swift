import Foundation
import XCTest
import Checkpoints
import Reconstruction
import Tensors

final class LPIPSTests: XCTestCase {
    /// VGG16's convolutions up to conv5_3: (slice, index in torchvision's `features`, in, out channels).
    static let convolutions: [(slice: Int, index: Int, cin: Int, cout: Int)] = [
        (1, 0, 3, 64), (1, 2, 64, 64), (2, 5, 64, 128), (2, 7, 128, 128), (3, 10, 128, 256), (3, 12, 256, 256), (3, 14, 256, 256),
        (4, 17, 256, 512), (4, 19, 512, 512), (4, 21, 512, 512), (5, 24, 512, 512), (5, 26, 512, 512), (5, 28, 512, 512),
    ]

    /// The hashed trunk of scripts/fixtures/lpips_fixture.py and the fixture's real `lin` weights, as one file.
    static func weightsFile(fixture: SafetensorsFile) throws -> String {
        var weights: [String: Tensor] = [:]
        for (k, c) in convolutions.enumerated() {
            let scale = Float((24.0 / Double(c.cin * 9)).squareRoot())
            weights["net.slice\(c.slice).\(c.index).weight"] = PerceptualLossTests.hashed([c.cout, c.cin, 3, 3], seed: UInt32(100 + 2 * k), scale: scale)
            weights["net.slice\(c.slice).\(c.index).bias"] = PerceptualLossTests.hashed([c.cout], seed: UInt32(101 + 2 * k), scale: 2)
        }
        for k in 0..<5 { weights["lin\(k).model.1.weight"] = try fixture.tensor("lin\(k).model.1.weight") }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("relief-lpips-\(getpid()).safetensors")
        try Safetensors.write(weights, to: url)
        return url.path
    }

    static func fixture() throws -> SafetensorsFile {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/lpips", withExtension: "safetensors"))
        return try SafetensorsFile(path: url.path)
    }

    /// The `lpips` package itself (float64) on the same trunk, its real lin weights and the same images.
    func testMatchesTheLPIPSPackage() throws {
        let fixture = try Self.fixture()
        let path = try Self.weightsFile(fixture: fixture)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let lpips = try LPIPS(weightsFile: path)
        let a = try fixture.tensor("a"), b = try fixture.tensor("b")
        XCTAssertEqual(a.scalars, (PerceptualLossTests.hashed([3, 3, 32, 32], seed: 600, scale: 1) + 0.5).scalars)
        let expected = try fixture.tensor("distance").scalars
        let got = lpips(a, b)
        XCTAssertEqual(got.count, 3)
        for (g, e) in zip(got, expected) { XCTAssertEqual(g, Double(e), accuracy: 1e-4 * Double(e), "\(got) vs \(expected)") }
        XCTAssertEqual(lpips(a, a), [0, 0, 0])
    }

    func testParameterNamesAreTheLPIPSPackages() {
        let names = Set(LPIPSNetwork().allParameters().map(\.name))
        let expected = Set(Self.convolutions.flatMap { ["net.slice\($0.slice).\($0.index).weight", "net.slice\($0.slice).\($0.index).bias"] }
                           + (0..<5).map { "lin\($0).model.1.weight" })
        XCTAssertEqual(names, expected)
    }

    func testAMissingLayerIsNamedWithTheFile() throws {
        let fixture = try Self.fixture()
        let path = try Self.weightsFile(fixture: fixture)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafetensorsFile(path: path)
        var weights: [String: Tensor] = [:]
        for name in file.entries.keys where name != "lin3.model.1.weight" { weights[name] = try file.tensor(name) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("relief-lpips-missing-\(getpid()).safetensors")
        try Safetensors.write(weights, to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try LPIPS(weightsFile: url.path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(url.path) && text.contains("lin3.model.1.weight"), text)
        }
        XCTAssertThrowsError(try LPIPS(weightsFile: "/nonexistent/lpips.safetensors")) { XCTAssertTrue("\($0)".contains("/nonexistent/lpips.safetensors")) }
    }
}
