import ArgumentParser
import Foundation
import Tensors

/// Throughput of the pointwise, reduction and softmax kernels, forward and backward, and the
/// fixed cost of one op on a tiny tensor.
struct PointwiseBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pointwise",
                                                    abstract: "Elementwise / broadcast / reduction / softmax kernel throughput.")

    @Option(help: "Elements in the large tensors.") var elements: Int = 1 << 22
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func run() {
        if let threads { Parallel.threads = threads }
        print("threads \(Parallel.threads), \(elements) elements")
        var rng = Philox(seed: 3)
        let n = elements, c = 256, channels = 64
        let x = Tensor.normal([n / c, c], rng: &rng), y = Tensor.normal([n / c, c], rng: &rng)
        let bias = Tensor.normal([c], rng: &rng)
        let image = x.viewing(as: [n / (channels * 1024), channels, 32, 32])
        let perChannel = Tensor.normal([1, channels, 1, 1], rng: &rng)

        func time(_ name: String, bytesPerElement: Int = 8, _ body: () -> Void) {
            body()
            var best = Double.infinity
            for _ in 0..<7 {
                let t = Clock.now
                body()
                best = min(best, Clock.seconds(since: t))
            }
            print(String(format: "%-34@ %8.3f ms  %6.2f ns/elem  %6.1f GB/s", name as NSString, best * 1e3,
                         best / Double(n) * 1e9, Double(n * bytesPerElement) / best / 1e9))
        }
        time("add same shape", bytesPerElement: 12) { _ = x + y }
        time("add bias [N,256]+[256]") { _ = x + bias }
        time("mul channel NCHW*[1,C,1,1]") { _ = image * perChannel }
        time("scale t*2") { _ = x * 2 }
        time("exp") { _ = exp(x) }
        time("tanh") { _ = tanh(x) }
        time("sigmoid") { _ = sigmoid(x) }
        time("gelu (erf)") { _ = gelu(x) }
        time("gelu (tanh)") { _ = gelu(x, approximate: .tanh) }
        time("sum all", bytesPerElement: 4) { _ = x.sum() }
        time("sum axis 0 (bias grad)", bytesPerElement: 4) { _ = x.sum(axes: [0]) }
        time("sum axis -1", bytesPerElement: 4) { _ = x.sum(axes: [1]) }
        time("sum NCHW→C (channel grad)", bytesPerElement: 4) { _ = image.sum(axes: [0, 2, 3]) }
        let rgb = Tensor.normal([n / 4, 4], rng: &rng)
        time("sum [N,4] axis 0 (narrow bias grad)", bytesPerElement: 4) { _ = rgb.sum(axes: [0]) }
        time("softmax rows of 256") { _ = softmax(x) }
        time("mse loss", bytesPerElement: 8) { _ = mseLoss(x, y) }
        var dropRng = Philox(seed: 4)
        time("dropout 0.1") { _ = dropout(x, probability: 0.1, rng: &dropRng) }

        let tape = Tape.shared
        func timeBackward(_ name: String, _ f: (Tensor, Tensor) -> Tensor) {
            time(name + " fwd+bwd", bytesPerElement: 20) {
                tape.reset()
                let a = x.requiringGradient(), b = bias.requiringGradient()
                tape.backward(f(a, b).sum())
                tape.reset()
            }
        }
        timeBackward("gelu(x + bias)") { gelu($0 + $1) }
        timeBackward("x * bias") { $0 * $1 }
        timeBackward("softmax(x)") { a, _ in softmax(a) }

        // Fixed cost per op on a tiny tensor (what a deep model pays per call).
        let tiny = Tensor.normal([4, 8], rng: &rng), tinyBias = Tensor.normal([8], rng: &rng)
        for (name, op) in [("tiny add", { _ = tiny + tiny }), ("tiny broadcast add", { _ = tiny + tinyBias }),
                           ("tiny gelu", { _ = gelu(tiny) }), ("tiny sum axis", { _ = tiny.sum(axes: [0]) })] as [(String, () -> Void)] {
            let reps = 20_000
            let t = Clock.now
            for _ in 0..<reps { op() }
            print(String(format: "%-34@ %8.2f µs/op", name as NSString, Clock.seconds(since: t) / Double(reps) * 1e6))
        }
    }
}
