import Foundation
import Layers
import Optimizers
import Tensors
import XCTest

/// A 2-layer MLP regressing a smooth function of 4 inputs.
final class MLP: Module {
    let fc1 = Linear(4, 64), fc2 = Linear(64, 64), fc3 = Linear(64, 1)
    var namedChildren: [(String, any Module)] { [("fc1", fc1), ("fc2", fc2), ("fc3", fc3)] }
    func callAsFunction(_ x: Tensor) -> Tensor { fc3(silu(fc2(silu(fc1(x))))) }
}

/// Resident set size in bytes, from /proc/self/statm (field 2, in pages).
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

final class TrainingLoopTests: XCTestCase {
    func testMLPConvergesAndMemoryStaysFlat() {
        let model = MLP()
        let store = ParameterStore(model: model, seed: 17)
        let adam = AdamW(store: store, weightDecay: 1e-4)
        let ema = ExponentialMovingAverage(store: store, decay: 0.99)
        let schedule = LearningRateSchedule.cosine(peak: 3e-3, warmupSteps: 50, totalSteps: 1000, floor: 1e-4)
        var rng = Philox(seed: 23)
        let batch = 128

        func sample(_ rng: inout Philox) -> (Tensor, Tensor) {
            let x = Tensor.uniform([batch, 4], low: -1, high: 1, rng: &rng)
            var y = [Float](repeating: 0, count: batch)
            for i in 0..<batch {
                let (a, b, c, d) = (x[flat: 4 * i], x[flat: 4 * i + 1], x[flat: 4 * i + 2], x[flat: 4 * i + 3])
                y[i] = sinf(2 * a) * cosf(b) + 0.5 * c * d - 0.3 * a * a
            }
            return (x, Tensor(y, shape: [batch, 1]))
        }

        var evalRNG = Philox(seed: 99)
        let (evalX, evalY) = sample(&evalRNG)
        func evalLoss() -> Float { withoutGradients { mseLoss(model(evalX), evalY).item } }

        let initial = evalLoss()
        var rssAt100 = 0, skipped = 0
        for step in 0..<1000 {
            let (x, y) = sample(&rng)
            Tape.shared.reset()
            store.zeroGradients()
            let loss = mseLoss(model(x), y)
            Tape.shared.backward(loss)
            let report = adam.step(step, schedule: schedule, maxGradientNorm: 1)
            if report.skipped { skipped += 1 }
            ema.update()
            if step == 99 { rssAt100 = residentBytes() }
        }
        Tape.shared.reset()
        let rssAt1000 = residentBytes()
        let final = evalLoss()
        XCTAssertEqual(skipped, 0)
        XCTAssertLessThan(final, initial / 20, "loss \(initial) → \(final)")
        // Every step allocates the same shapes from the pool: after warm-up nothing grows.
        XCTAssertLessThan(rssAt1000 - rssAt100, 4 << 20, "RSS grew from \(rssAt100) to \(rssAt1000) bytes")

        // The EMA weights are a usable model too, close to the trained one.
        let trained = store.values.copy()
        store.copyValues(from: ema.average)
        XCTAssertLessThan(evalLoss(), initial / 10)
        store.copyValues(from: trained)
    }
}
