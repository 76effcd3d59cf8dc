import Foundation
import XCTest
import Checkpoints
import Layers
import Reconstruction
import Tensors

final class PerceptualLossTests: XCTestCase {
    /// Single-threaded: these tests run hundreds of VGG passes on tiny images, where handing
    /// small GEMMs to a second BLAS thread costs more than it saves (and far more on a busy machine).
    private var savedThreads = 1
    override func setUp() { savedThreads = Parallel.threads; Parallel.threads = 1 }
    override func tearDown() { Parallel.threads = savedThreads }

    /// torchvision `vgg19().features` indices of conv1_1 … conv5_2, with (in, out) channels.
    static let convolutions: [(index: Int, cin: Int, cout: Int)] = [
        (0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256), (14, 256, 256),
        (16, 256, 256), (19, 256, 512), (21, 512, 512), (23, 512, 512), (25, 512, 512), (28, 512, 512), (30, 512, 512),
    ]

    /// Values uniform in [−scale/2, scale/2) from integer hashing alone, so
    /// scripts/fixtures/perceptual_fixture.py reproduces them bit for bit without a shared RNG.
    static func hashed(_ shape: [Int], seed: UInt32, scale: Float) -> Tensor {
        var values = [Float](repeating: 0, count: elementCount(shape))
        for i in values.indices {
            var h = (UInt32(truncatingIfNeeded: i) &* 0x9E37_79B1) ^ seed
            h ^= h >> 16; h = h &* 0x85EB_CA6B; h ^= h >> 13; h = h &* 0xC2B2_AE35; h ^= h >> 16
            values[i] = (Float(h >> 8) * 0x1p-24 - 0.5) * scale
        }
        return Tensor(values, shape: shape)
    }

    /// Images in [0, 1).
    static func image(_ shape: [Int], seed: UInt32) -> Tensor { hashed(shape, seed: seed, scale: 1) + 0.5 }

    /// He-uniform weights (variance 2/fan-in keeps activations at the input's scale through the
    /// ReLUs, so every layer's term matters) and biases in [−1, 1).
    static let weights: [String: Tensor] = {
        var out: [String: Tensor] = [:]
        for (k, c) in convolutions.enumerated() {
            let scale = Float((24.0 / Double(c.cin * 9)).squareRoot())
            out["features.\(c.index).weight"] = hashed([c.cout, c.cin, 3, 3], seed: UInt32(2 * k), scale: scale)
            out["features.\(c.index).bias"] = hashed([c.cout], seed: UInt32(2 * k + 1), scale: 2)
        }
        return out
    }()

    static let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("relief-perceptual-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// The random-weight VGG written once per run.
    static let weightsFile: String = {
        let url = directory.appendingPathComponent("vgg19.safetensors")
        try! Safetensors.write(weights, to: url)
        return url.path
    }()

    override class func tearDown() {
        try? FileManager.default.removeItem(at: directory)
        super.tearDown()
    }

    func write(_ tensors: [String: Tensor], as name: String) throws -> String {
        let url = Self.directory.appendingPathComponent(name)
        try Safetensors.write(tensors, to: url)
        return url.path
    }

    func testParameterNamesAreTorchvisions() {
        let names = VGGFeatures().allParameters().map(\.name)
        XCTAssertEqual(names, Self.convolutions.flatMap { ["features.\($0.index).weight", "features.\($0.index).bias"] })
        for (name, p) in VGGFeatures().allParameters() { XCTAssertEqual(p.shape, Self.weights[name]?.shape, name) }
    }

    func testIdenticalImagesGiveZeroAndDifferentImagesPositive() throws {
        let loss = try PerceptualLoss(weightsFile: Self.weightsFile)
        let a = Self.image([2, 3, 24, 20], seed: 100), b = Self.image([2, 3, 24, 20], seed: 101)
        XCTAssertEqual(withoutGradients { loss(a, a) }.item, 0)
        let different = withoutGradients { loss(a, b) }.item
        // The raw-image term alone is mean|a − b| (the ×255 cancels the /255); features add to it.
        let raw = withoutGradients { l1Loss(a, b) }.item
        XCTAssertGreaterThan(different, raw * 1.01)
        XCTAssertTrue(different.isFinite)
    }

    func testGradientMatchesFiniteDifferences() throws {
        let loss = try PerceptualLoss(weightsFile: Self.weightsFile)
        let base = Self.image([1, 3, 16, 16], seed: 200)
        // The target is the prediction shifted by ½ (mod 1): |p − t| = ½ at every pixel, so the
        // raw-image term's |·| has no kink within a step. ReLU and feature |·| kinks sit at
        // measure-zero points that a step of 1e-2 (2.55 on VGG's 0–255 scale) rarely crosses.
        let target = Tensor(base.scalars.map { $0 < 0.5 ? $0 + 0.5 : $0 - 0.5 }, shape: base.shape)
        // Every pixel costs two VGG passes, so differences run over a 4×4 patch pasted into the
        // image (at the left edge: zero padding, and pool windows on both sides of a boundary);
        // the PyTorch fixture checks every pixel's gradient.
        func pasted(_ patch: Tensor) -> Tensor {
            let middle = concat([patch, base.sliced(axis: 2, range: 5..<9).sliced(axis: 3, range: 4..<16)], axis: 3)
            return concat([base.sliced(axis: 2, range: 0..<5), middle, base.sliced(axis: 2, range: 9..<16)], axis: 2)
        }
        let patch = base.sliced(axis: 2, range: 5..<9).sliced(axis: 3, range: 0..<4)
        XCTAssertEqual(pasted(patch).scalars, base.scalars)
        // The loss is piecewise linear in the image, so between kinks the differences are exact but
        // for the Float32 rounding of the loss: a few ulps of ~0.4 over 2ε, about 1.6% of these
        // gradients. The raw-image term gives every pixel ±1/768 and the VGG terms up to as much
        // again, so a backward that drops or misroutes a VGG path is off by tens of percent.
        // (That the forward is FaceLift's is the PyTorch fixture's job.)
        let error = maxGradientError(inputs: [patch], epsilon: 1e-2, floor: 1e-4) { loss(pasted($0[0]), target) }
        XCTAssertLessThan(error, 3e-2)
    }

    /// PyTorch in float64 on FaceLift's structure with the same hashed weights and images
    /// (scripts/fixtures/perceptual_fixture.py): the loss and its gradient wrt the prediction.
    func testMatchesPyTorchReference() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/perceptual", withExtension: "safetensors"))
        let fixture = try SafetensorsFile(path: url.path)
        let prediction = try fixture.tensor("prediction"), target = try fixture.tensor("target")
        // The script reproduced the hash (so its weights are these tests' weights too).
        XCTAssertEqual(prediction.scalars, Self.image([2, 3, 32, 32], seed: 500).scalars)
        XCTAssertEqual(target.scalars, Self.image([2, 3, 32, 32], seed: 501).scalars)
        let loss = try PerceptualLoss(weightsFile: Self.weightsFile)
        let (value, grads) = gradients(of: [prediction]) { loss($0[0], target) }
        let expected = try fixture.tensor("loss").item
        XCTAssertEqual(value.item, expected, accuracy: 1e-5 * expected)
        let reference = try fixture.tensor("grad.prediction")
        let largest = reference.scalars.map(abs).max()!
        var worst: Float = 0
        for i in 0..<reference.count { worst = max(worst, abs(grads[0][flat: i] - reference[flat: i])) }
        XCTAssertLessThan(worst, 1e-3 * largest)
    }

    /// The VGG's parameters are constants on the tape: a trainable layer in front of the loss
    /// gets its gradient, the VGG's store gets none and no tape gradient exists for its weights.
    func testFrozenNetworkAccumulatesNothing() throws {
        let trainable = Conv2d(3, 3, kernelSize: 1)
        let trainer = ParameterStore(model: trainable, seed: 1)
        let loss = try PerceptualLoss(weightsFile: Self.weightsFile)
        trainer.zeroGradients()
        let x = Self.image([1, 3, 16, 16], seed: 300), target = Self.image([1, 3, 16, 16], seed: 301)
        let tape = Tape.shared
        tape.reset()
        let value = loss(trainable(x), target)
        tape.backward(value)
        XCTAssertGreaterThan(trainer.gradients.scalars.map(abs).max()!, 0)
        XCTAssertTrue(loss.store.gradients.scalars.allSatisfy { $0 == 0 })
        for (name, p) in loss.network.allParameters() {
            XCTAssertFalse(p.requiresGradient, name)
            XCTAssertFalse(p.value.isTracked, name)
            XCTAssertNil(tape.gradient(of: p.value), name)
        }
        XCTAssertTrue(loss.store.trainableSegments().isEmpty)
        tape.reset()
    }

    func testMissingKeyIsNamed() throws {
        var partial = Self.weights
        partial["features.21.weight"] = nil
        let path = try write(partial, as: "missing.safetensors")
        XCTAssertThrowsError(try PerceptualLoss(weightsFile: path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path), text)
            XCTAssertTrue(text.contains("missing keys: features.21.weight"), text)
        }
    }

    func testMisshapedKeyIsNamed() throws {
        var wrong = Self.weights
        wrong["features.0.weight"] = Tensor(zeros: [64, 3, 1, 1])
        let path = try write(wrong, as: "misshaped.safetensors")
        XCTAssertThrowsError(try PerceptualLoss(weightsFile: path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path), text)
            XCTAssertTrue(text.contains("features.0.weight: expected [64, 3, 3, 3], got [64, 3, 1, 1]"), text)
        }
    }

    func testMissingFileIsNamed() {
        let path = Self.directory.appendingPathComponent("absent.safetensors").path
        XCTAssertThrowsError(try PerceptualLoss(weightsFile: path)) { error in
            XCTAssertTrue("\(error)".contains(path), "\(error)")
            XCTAssertTrue("\(error)".contains("no such file"), "\(error)")
        }
    }

    /// A whole torchvision-named VGG19 (conv5_3, conv5_4, the classifier) loads: unused tensors
    /// are ignored, and the loss is unchanged by them.
    func testUnusedTensorsAreIgnored() throws {
        var full = Self.weights
        full["features.32.weight"] = Tensor(zeros: [512, 512, 3, 3])
        full["features.34.bias"] = Tensor(zeros: [512])
        full["classifier.6.bias"] = Tensor(zeros: [1000])
        let path = try write(full, as: "full.safetensors")
        let a = Self.image([1, 3, 16, 16], seed: 400), b = Self.image([1, 3, 16, 16], seed: 401)
        let withExtras = withoutGradients { try! PerceptualLoss(weightsFile: path)(a, b) }.item
        let plain = withoutGradients { try! PerceptualLoss(weightsFile: Self.weightsFile)(a, b) }.item
        XCTAssertEqual(withExtras, plain)
    }
}

final class ReconstructionLossTests: XCTestCase {
    /// Single-threaded: these tests run hundreds of VGG passes on tiny images, where handing
    /// small GEMMs to a second BLAS thread costs more than it saves (and far more on a busy machine).
    private var savedThreads = 1
    override func setUp() { savedThreads = Parallel.threads; Parallel.threads = 1 }
    override func tearDown() { Parallel.threads = savedThreads }

    /// The three terms add up as weighted, and each reaches the rendered views' gradient.
    func testTermsAddUpAndEachIsLogged() throws {
        // Its own copy of the random VGG: PerceptualLossTests removes its folder when it finishes.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("relief-loss-terms-\(getpid()).safetensors")
        try Safetensors.write(PerceptualLossTests.weights, to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let perceptual = try PerceptualLoss(weightsFile: file.path)
        let rendered = PerceptualLossTests.image([1, 2, 3, 16, 16], seed: 3), target = PerceptualLossTests.image([1, 2, 3, 16, 16], seed: 4)
        let full = ReconstructionLoss(ssimWeight: 0.2, perceptualWeight: 0.5, perceptual: perceptual)
        XCTAssertEqual(full.summary, "MSE + 0.2·(1 − SSIM) + 0.5·perceptual (VGG19)")
        XCTAssertEqual(ReconstructionLoss().summary, "MSE + no perceptual term (perceptual_weight 0)")
        let (loss, parts) = withoutGradients { full(rendered, target) }
        XCTAssertEqual(Set(parts.keys), ["mse", "ssim", "perceptual"])
        let expected = parts["mse"]! + 0.2 * (1 - parts["ssim"]!) + 0.5 * parts["perceptual"]!
        XCTAssertEqual(Double(loss[flat: 0]), expected, accuracy: 1e-5 * expected)

        Tape.shared.reset()
        let tracked = rendered.requiringGradient()
        Tape.shared.backward(full(tracked, target).loss)
        let withPerceptual = Tape.shared.gradient(of: tracked)!.scalars
        Tape.shared.reset()
        let tracked2 = rendered.requiringGradient()
        Tape.shared.backward(ReconstructionLoss(ssimWeight: 0.2)(tracked2, target).loss)
        let without = Tape.shared.gradient(of: tracked2)!.scalars
        Tape.shared.reset()
        XCTAssertGreaterThan(zip(withPerceptual, without).map { abs($0 - $1) }.max()!, 1e-6, "the perceptual term reaches the gradient")
    }
}
