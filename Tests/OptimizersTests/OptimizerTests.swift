import Foundation
import Layers
import Optimizers
import Tensors
import XCTest

/// A model with a matrix (decayed), a vector (not decayed) and a frozen matrix.
final class TinyModel: Module {
    let weight = Parameter(shape: [3, 5], initializer: .normal(mean: 0, std: 1))
    let bias = Parameter(shape: [3], initializer: .normal(mean: 0, std: 1))
    let frozen = Parameter(shape: [2, 2], initializer: .normal(mean: 0, std: 1))
    var namedParameters: [(String, Parameter)] { [("weight", weight), ("bias", bias), ("frozen", frozen)] }
}

/// Writes deterministic pseudo-gradients into the flat gradient buffer of trainable entries.
func fillGradients(_ store: ParameterStore, step: Int) {
    var rng = Philox(seed: 11, stream: UInt64(step))
    store.zeroGradients()
    for e in store.entries where e.parameter.requiresGradient {
        rng.fillNormal(store.gradients.storage.base + e.offset, count: e.count)
    }
}

final class OptimizerTests: XCTestCase {
    func makeStore() -> (TinyModel, ParameterStore) {
        let model = TinyModel()
        model.frozen.requiresGradient = false
        return (model, ParameterStore(model: model, seed: 3))
    }

    func testAdamWMatchesReferenceWithDecayMaskAndFrozenParameters() {
        let (_, store) = makeStore()
        let adam = AdamW(store: store, beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.1)
        let before = store.values.scalars.map(Double.init)
        var p = before, m = [Double](repeating: 0, count: p.count), v = m
        let lr = 0.01
        for step in 1...6 {
            fillGradients(store, step: step)
            let g = store.gradients.scalars.map(Double.init)
            for e in store.entries where e.parameter.requiresGradient {
                for i in e.range {
                    if e.decays { p[i] *= 1 - lr * 0.1 }
                    m[i] = 0.9 * m[i] + 0.1 * g[i]
                    v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i]
                    let mh = m[i] / (1 - pow(0.9, Double(step))), vh = v[i] / (1 - pow(0.99, Double(step)))
                    p[i] -= lr * mh / (vh.squareRoot() + 1e-8)
                }
            }
            adam.apply(learningRate: Float(lr), gradientScale: 1)
        }
        let after = store.values.scalars
        for i in 0..<p.count { XCTAssertEqual(Double(after[i]), p[i], accuracy: 1e-5, "element \(i)") }
        let frozen = store.entry(named: "frozen")!
        for i in frozen.range { XCTAssertEqual(Double(after[i]), before[i], "frozen parameter moved") }
    }

    func testSGDMomentumAndNesterovMatchReference() {
        for nesterov in [false, true] {
            let (_, store) = makeStore()
            let sgd = SGD(store: store, momentum: 0.8, weightDecay: 0.05, nesterov: nesterov)
            var p = store.values.scalars.map(Double.init), b = [Double](repeating: 0, count: p.count)
            for step in 1...4 {
                fillGradients(store, step: step)
                let g = store.gradients.scalars.map(Double.init)
                for e in store.entries where e.parameter.requiresGradient {
                    for i in e.range {
                        let gi = g[i] * 0.5 + (e.decays ? 0.05 * p[i] : 0)
                        b[i] = 0.8 * b[i] + gi
                        p[i] -= 0.1 * (nesterov ? gi + 0.8 * b[i] : b[i])
                    }
                }
                sgd.apply(learningRate: 0.1, gradientScale: 0.5)
            }
            let after = store.values.scalars
            for i in 0..<p.count { XCTAssertEqual(Double(after[i]), p[i], accuracy: 1e-5) }
        }
    }

    func testSchedules() {
        XCTAssertEqual(LearningRateSchedule.constant(0.3).learningRate(at: 1000), 0.3)
        let warm = LearningRateSchedule.linearWarmup(peak: 1, warmupSteps: 4)
        XCTAssertEqual((0..<6).map { warm.learningRate(at: $0) }, [0.25, 0.5, 0.75, 1, 1, 1])
        let cosine = LearningRateSchedule.cosine(peak: 1, warmupSteps: 10, totalSteps: 110, floor: 0.1)
        XCTAssertEqual(cosine.learningRate(at: 4), 0.5, accuracy: 1e-6)
        XCTAssertEqual(cosine.learningRate(at: 10), 1, accuracy: 1e-6)
        XCTAssertEqual(cosine.learningRate(at: 60), 0.55, accuracy: 1e-6)
        XCTAssertEqual(cosine.learningRate(at: 110), 0.1, accuracy: 1e-6)
        XCTAssertEqual(cosine.learningRate(at: 500), 0.1, accuracy: 1e-6)
        let piecewise = LearningRateSchedule.piecewiseConstant(boundaries: [10, 20], values: [1, 0.1, 0.01])
        XCTAssertEqual([0, 9, 10, 19, 20, 99].map { piecewise.learningRate(at: $0) }, [1, 1, 0.1, 0.1, 0.01, 0.01])
    }

    func testGlobalNormIsDeterministicAcrossThreadCountsAndExact() {
        var rng = Philox(seed: 5)
        let values = Tensor.normal([100_003], rng: &rng)
        let reference = values.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        var results: [Double] = []
        for threads in [1, 2, 3] {
            Parallel.threads = threads
            results.append(squaredNorm(values.storage.base, count: values.count))
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[0], results[2])
        XCTAssertEqual(results[0], reference, accuracy: reference * 1e-12)
    }

    func testClippingScalesTheUpdateAndNonFiniteGradientsSkipTheStep() {
        let (_, store) = makeStore()
        let sgd = SGD(store: store, momentum: 0)
        fillGradients(store, step: 1)
        let norm = globalGradientNorm(store)
        let before = store.values.scalars, grads = store.gradients.scalars
        let report = sgd.step(0, schedule: .constant(1), maxGradientNorm: norm / 4)
        XCTAssertTrue(report.clipped)
        XCTAssertFalse(report.skipped)
        XCTAssertEqual(report.gradientNorm, norm)
        let after = store.values.scalars
        for i in 0..<before.count where grads[i] != 0 {
            XCTAssertEqual(before[i] - after[i], grads[i] / 4, accuracy: 1e-5)
        }

        for bad in [Float.nan, .infinity, -.infinity] {
            fillGradients(store, step: 2)
            store.gradients.storage.base[store.entry(named: "bias")!.offset + 1] = bad
            let kept = store.values.scalars
            let r = sgd.step(1, schedule: .constant(1), maxGradientNorm: 1)
            XCTAssertTrue(r.skipped, "a \(bad) gradient must skip the step")
            XCTAssertEqual(store.values.scalars, kept)
        }
    }

    /// Decays against values worked by hand from diffusers' `EMAModel.get_decay` (s = n − 1;
    /// the first update copies the weights).
    func testEMAWarmupFollowsDiffusers() {
        let (_, store) = makeStore()
        let rational = ExponentialMovingAverage(store: store, decay: 0.999)
        XCTAssertEqual(rational.warmup, .rational, "diffusers' default is the default")
        XCTAssertEqual(rational.currentDecay(forUpdate: 1), 0)
        XCTAssertEqual(rational.currentDecay(forUpdate: 2), 2.0 / 11.0, accuracy: 1e-7)
        XCTAssertEqual(rational.currentDecay(forUpdate: 3), 0.25, accuracy: 1e-7)
        XCTAssertEqual(rational.currentDecay(forUpdate: 300), 300.0 / 309.0, accuracy: 1e-7)  // 0.97087
        XCTAssertEqual(rational.currentDecay(forUpdate: 8992), 0.999)  // 8992/9001 > 0.999: capped
        XCTAssertEqual(rational.currentDecay(forUpdate: 1_000_000), 0.999)

        let power = ExponentialMovingAverage(store: store, decay: 0.999, warmup: .power(invGamma: 1, power: 2.0 / 3.0))
        XCTAssertEqual(power.currentDecay(forUpdate: 1), 0)
        XCTAssertEqual(power.currentDecay(forUpdate: 2), 0.3700395, accuracy: 1e-6)  // 1 − 2^(−2/3)
        XCTAssertEqual(power.currentDecay(forUpdate: 9), 0.7688796, accuracy: 1e-6)  // s = 8: 1 − 9^(−2/3)
        XCTAssertEqual(power.currentDecay(forUpdate: 1_000_000), 0.999)

        let fixed = ExponentialMovingAverage(store: store, decay: 0.9, warmup: .none)
        XCTAssertEqual(fixed.currentDecay(forUpdate: 1), 0.9)
        XCTAssertEqual(fixed.currentDecay(forUpdate: 500), 0.9)
    }

    /// The averaged weights through three updates, by hand: the first copies the weights, the
    /// second keeps 2/11 of the average, the third 1/4.
    func testEMAUpdatesWithWarmup() {
        let (_, store) = makeStore()
        let start = store.values.scalars
        let ema = ExponentialMovingAverage(store: store, decay: 0.999)
        func shiftWeights(by d: Float) { for i in 0..<store.count { store.values.storage.base[i] += d } }
        shiftWeights(by: 2)
        ema.update()
        XCTAssertEqual(ema.average.scalars, store.values.scalars, "the first update copies")
        shiftWeights(by: 11)  // weights start + 13, average start + 2
        ema.update()
        for i in 0..<store.count { XCTAssertEqual(ema.average.scalars[i], start[i] + 2 + (9.0 / 11.0) * 11, accuracy: 1e-4) }
        shiftWeights(by: 3)  // weights start + 16, average start + 11: moves 3/4 of the gap
        ema.update()
        for i in 0..<store.count { XCTAssertEqual(ema.average.scalars[i], start[i] + 11 + 0.75 * 5, accuracy: 1e-4) }
        XCTAssertEqual(ema.updates, 3)
        XCTAssertEqual(ema.stateDictionary()["weight"]!.shape, [3, 5])

        let fixed = ExponentialMovingAverage(store: store, decay: 0.75, warmup: .none)
        let before = store.values.scalars
        shiftWeights(by: 2)
        fixed.update()
        for i in 0..<store.count { XCTAssertEqual(fixed.average.scalars[i], before[i] + 0.25 * 2, accuracy: 1e-5) }
    }

    /// The share of the initial weights left in the average, as relief-infer reads it: the
    /// product of the decays; a warm-up's first update copies, leaving none.
    func testInitialShareIsTheProductOfDecays() {
        let (_, store) = makeStore()
        let fixed = ExponentialMovingAverage(store: store, decay: 0.9, warmup: .none)
        XCTAssertEqual(fixed.initialShare, 1)
        for _ in 0..<6 { fixed.update() }
        XCTAssertEqual(fixed.initialShare, 0.531441, accuracy: 1e-6)
        let warm = ExponentialMovingAverage(store: store, decay: 0.999)
        warm.update()
        XCTAssertEqual(warm.initialShare, 0)
    }

    /// A parameter's learning-rate factor scales its step: half the rate moves half as far, in
    /// SGD exactly, in AdamW's first step (≈ lr · sign) too.
    func testLearningRateScaleMovesAParameterProportionally() {
        for kind in ["sgd", "adamw"] {
            let model = TinyModel()
            model.weight.learningRateScale = 0.5
            let rebuilt = ParameterStore(model: model, seed: 3)
            let optimizer: any Optimizer = kind == "sgd" ? SGD(store: rebuilt, momentum: 0) : AdamW(store: rebuilt, weightDecay: 0)
            fillGradients(rebuilt, step: 0)
            let before = rebuilt.values.scalars
            let g = rebuilt.gradients.scalars
            optimizer.step(0, schedule: .constant(0.1))
            let after = rebuilt.values.scalars
            for (name, factor) in [("weight", Float(0.5)), ("bias", 1)] {
                let e = rebuilt.entry(named: name)!
                for i in e.range {
                    let expected = kind == "sgd" ? 0.1 * factor * g[i] : 0.1 * factor * (g[i] > 0 ? 1 : -1)
                    XCTAssertEqual(before[i] - after[i], expected, accuracy: 1e-5, "\(kind) \(name)")
                }
            }
        }
    }

    func testAdamWStateRoundTripResumesBitForBit() throws {
        func run(resumeAt: Int?) throws -> [Float] {
            let (_, store) = makeStore()
            var adam = AdamW(store: store)
            for step in 0..<6 {
                if step == resumeAt {
                    let saved = adam.state, weights = store.stateDictionary()
                    let (_, fresh) = makeStore()
                    try fresh.load(weights)
                    adam = AdamW(store: fresh)
                    try adam.loadState(saved)
                }
                fillGradients(adam.store, step: step)
                adam.step(step, schedule: .cosine(peak: 0.01, warmupSteps: 2, totalSteps: 6, floor: 0))
            }
            return adam.store.values.scalars
        }
        XCTAssertEqual(try run(resumeAt: nil), try run(resumeAt: 3))

        let (_, store) = makeStore()
        XCTAssertThrowsError(try AdamW(store: store).loadState(["adamw.exp_avg": Tensor(zeros: [1])])) { error in
            XCTAssertTrue("\(error)".contains("adamw.exp_avg"), "\(error)")
        }
    }
}
