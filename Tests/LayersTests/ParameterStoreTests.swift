import Layers
import Tensors
import XCTest

/// y = x·Wᵀ with the weight in a nested child: exercises dotted names and flat gradients
/// using only `matmul` (a core op).
final class Projection: Module {
    let weight: Parameter
    init(_ i: Int, _ o: Int) { weight = Parameter(shape: [o, i], initializer: .kaimingUniform(fanIn: i)) }
    var namedParameters: [(String, Parameter)] { [("weight", weight)] }
    func callAsFunction(_ x: Tensor) -> Tensor { matmul(x, weight.value, transposeB: true) }
}

final class Stack: Module {
    let blocks: [Projection]
    let scale = Parameter(shape: [1], initializer: .ones)
    init() { blocks = [Projection(4, 6), Projection(6, 3)] }
    var namedParameters: [(String, Parameter)] { [("scale", scale)] }
    var namedChildren: [(String, any Module)] { indexed("blocks", blocks) }
    func callAsFunction(_ x: Tensor) -> Tensor { blocks[1](blocks[0](x)) }
}

final class ParameterStoreTests: XCTestCase {
    func testNamesOrderAndLayout() {
        let model = Stack()
        let store = ParameterStore(model: model, seed: 1)
        XCTAssertEqual(store.entries.map(\.name), ["scale", "blocks.0.weight", "blocks.1.weight"])
        XCTAssertEqual(store.entries.map(\.shape), [[1], [6, 4], [3, 6]])
        XCTAssertEqual(store.entries.map(\.offset), [0, 16, 48])
        XCTAssertEqual(model.parameterCount, 1 + 24 + 18)
        // Parameter values are views of the flat buffer: a write there shows through.
        store.values.storage.base[16 + 5] = 42
        XCTAssertEqual(model.blocks[0].weight.value[flat: 5], 42)
        XCTAssertEqual(store["scale"]!.scalars, [1])
    }

    func testInitialisationIsDeterministicPerNameAndWithinBounds() {
        let a = ParameterStore(model: Stack(), seed: 9), b = ParameterStore(model: Stack(), seed: 9)
        let c = ParameterStore(model: Stack(), seed: 10)
        XCTAssertEqual(a.values.scalars, b.values.scalars)
        XCTAssertNotEqual(a.values.scalars, c.values.scalars)
        let w = a["blocks.0.weight"]!.scalars
        XCTAssertTrue(w.allSatisfy { abs($0) <= 0.5 }, "kaiming-uniform bound 1/√4")
        XCTAssertGreaterThan(w.map(abs).max()!, 0.3)

        var rng = Philox(seed: 2)
        let n = 100_000
        let t = Tensor(zeros: [n])
        Initializer.xavierUniform(fanIn: 30, fanOut: 70, gain: 1).fill(t.storage.base, count: n, rng: &rng)
        let variance = t.scalars.reduce(0) { $0 + Double($1 * $1) } / Double(n)
        XCTAssertEqual(variance, 2.0 / 100, accuracy: 0.02 * 0.03)
        Initializer.normal(mean: 1, std: 0.5).fill(t.storage.base, count: n, rng: &rng)
        XCTAssertEqual(t.scalars.reduce(0, +) / Float(n), 1, accuracy: 0.01)
    }

    func testBackwardAccumulatesIntoTheFlatGradientBufferAndFrozenParametersGetNone() {
        let model = Stack()
        let store = ParameterStore(model: model, seed: 4)
        var rng = Philox(seed: 3)
        let x = Tensor.normal([5, 4], rng: &rng)

        func loss() -> Tensor {
            Tape.shared.reset()
            return model(x)
        }
        store.zeroGradients()
        let y = loss()
        let seed = Tensor.normal(y.shape, rng: &rng)
        Tape.shared.backward(y, seed: seed)
        // Reference: dW1 = seedᵀ·h with h = x·W0ᵀ.
        let h = withoutGradients { matmul(x, model.blocks[0].weight.value, transposeB: true) }
        let expected = withoutGradients { matmul(seed, h, transposeA: true) }
        let got = store.gradient(named: "blocks.1.weight")!
        for i in 0..<expected.count { XCTAssertEqual(got[flat: i], expected[flat: i], accuracy: 1e-5) }
        XCTAssertGreaterThan(store.gradient(named: "blocks.0.weight")!.scalars.map(abs).max()!, 0)
        XCTAssertEqual(store.gradient(named: "scale")!.scalars, [0], "unused parameter gets no gradient")

        // A second backward without zeroing accumulates.
        Tape.shared.backward(loss(), seed: seed)
        let twice = store.gradient(named: "blocks.1.weight")!
        for i in 0..<expected.count { XCTAssertEqual(twice[flat: i], 2 * expected[flat: i], accuracy: 1e-5) }

        model.blocks[0].setFrozen(true)
        store.updateGradientBindings()
        store.zeroGradients()
        Tape.shared.backward(loss(), seed: seed)
        XCTAssertEqual(store.gradient(named: "blocks.0.weight")!.scalars.map(abs).max()!, 0)
        XCTAssertGreaterThan(store.gradient(named: "blocks.1.weight")!.scalars.map(abs).max()!, 0)
        XCTAssertEqual(store.trainableSegments().map(\.range), [0..<1, 48..<66])
        Tape.shared.reset()
    }

    /// Segments merge only parameters alike in decay and learning-rate factor.
    func testSegmentsCarryTheLearningRateScale() {
        let model = Stack()
        model.blocks[1].weight.learningRateScale = 0.5
        let store = ParameterStore(model: model, seed: 1)
        XCTAssertEqual(store.trainableSegments(), [.init(range: 0..<1, decays: false, learningRateScale: 1),
                                                   .init(range: 16..<40, decays: true, learningRateScale: 1),
                                                   .init(range: 48..<66, decays: true, learningRateScale: 0.5)])
        model.blocks[1].weight.learningRateScale = 1
        XCTAssertEqual(ParameterStore(model: model, seed: 1).trainableSegments().map(\.range), [0..<1, 16..<66])
    }

    /// A store that goes away takes its tape slots with it: none leak however many stores come
    /// and go, and a tensor still bound to a released slot is a constant, even after the slot's
    /// index serves another store.
    func testDroppedStoresReleaseTheirSlots() {
        let baseline = Tape.shared.livePersistentSlots
        let model = Stack()
        var stale: Tensor?
        for i in 0..<200 {
            withExtendedLifetime(ParameterStore(model: model, seed: UInt64(i))) {
                XCTAssertEqual(Tape.shared.livePersistentSlots, baseline + 3)
                XCTAssertTrue(model.scale.value.isTracked)
                if i == 0 { stale = model.scale.value }
            }
        }
        XCTAssertEqual(Tape.shared.livePersistentSlots, baseline)
        XCTAssertFalse(model.scale.value.isTracked, "its store is gone")

        let other = Stack()
        withExtendedLifetime(ParameterStore(model: other, seed: 1)) {
            XCTAssertTrue(other.scale.value.isTracked)
            XCTAssertFalse(stale!.isTracked, "a released slot stays dead when its index is reused")
        }
    }

    /// A frozen store has no gradient buffer and no slots: gradients reach the inputs (checked
    /// against finite differences) and nothing else.
    func testFrozenStorePassesGradientsToInputsOnly() {
        let baseline = Tape.shared.livePersistentSlots
        let model = Stack()
        let store = ParameterStore(model: model, seed: 6, trainable: false)
        XCTAssertEqual(Tape.shared.livePersistentSlots, baseline)
        XCTAssertFalse(store.isTrainable)
        XCTAssertEqual(store.gradients.count, 0)
        XCTAssertTrue(store.trainableSegments().isEmpty)
        XCTAssertNil(store.gradient(named: "blocks.0.weight"))
        XCTAssertTrue(model.allParameters().allSatisfy { !$0.parameter.value.isTracked })
        XCTAssertTrue(model.allParameters().allSatisfy { $0.parameter.requiresGradient }, "the module's own flags are left alone")

        var rng = Philox(seed: 8)
        let x = Tensor.normal([3, 4], rng: &rng)
        let (_, grads) = gradients(of: [x]) { model($0[0]) }
        XCTAssertGreaterThan(grads[0].scalars.map(abs).max()!, 0)
        XCTAssertLessThan(maxGradientError(inputs: [x], epsilon: 1e-2) { model($0[0]) }, 1e-2)
        XCTAssertEqual(Tape.shared.recordCount, 0)

        // A trainable store made later over the same module takes its parameters back.
        let trained = ParameterStore(model: model)
        XCTAssertTrue(model.blocks[0].weight.value.isTracked)
        XCTAssertEqual(trained.values.scalars, store.values.scalars)
        withExtendedLifetime(trained) {}
    }

    func testLoadReportsMissingUnexpectedAndMismatchedKeys() throws {
        let store = ParameterStore(model: Stack(), seed: 1)
        var dict = store.stateDictionary()
        dict["blocks.1.weight"] = Tensor(repeating: 3, shape: [3, 6])
        try store.load(dict)
        XCTAssertEqual(store["blocks.1.weight"]!.scalars, [Float](repeating: 3, count: 18))

        dict["blocks.0.weight"] = nil
        dict["blocks.2.weight"] = Tensor(zeros: [2])
        dict["scale"] = Tensor(zeros: [1, 1])
        XCTAssertThrowsError(try store.load(dict)) { error in
            let e = error as! ParameterLoadError
            XCTAssertEqual(e.missing, ["blocks.0.weight"])
            XCTAssertEqual(e.unexpected, ["blocks.2.weight"])
            XCTAssertEqual(e.shapeMismatches, ["scale: expected [1], got [1, 1]"])
            XCTAssertTrue("\(e)".contains("missing keys: blocks.0.weight"))
        }
        XCTAssertEqual(store["scale"]!.scalars, [1], "a failed load changes nothing")
        dict["scale"] = Tensor(repeating: 7, shape: [1])
        try store.load(dict, strict: false)
        XCTAssertEqual(store["scale"]!.scalars, [7])
    }
}
