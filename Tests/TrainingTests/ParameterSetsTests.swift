import Checkpoints
import Datasets
import Distributed
import Foundation
import Layers
import Tensors
import XCTest
@testable import Training

/// A probe network trained through a frozen probe network loaded from another run:
/// loss = MSE(frozen(trained(first view)), second view). Only gradients that flow through the
/// frozen network reach the trained one.
final class ThroughFrozenTask: TrainingTask {
    let inner: ProbeTask
    let refiner: FrozenModel

    init(_ recipe: Recipe, source: String, sharing: Bool = false) throws {
        let inner = try ProbeTask(recipe: recipe)
        self.inner = inner
        refiner = try FrozenModel(name: "refiner", checkpoint: source) { _ in
            sharing ? inner.network : ProbeTask.Network(channels: 6)
        }
    }

    var model: any Module { inner.model }
    var viewSelection: ViewSelection { inner.viewSelection }
    var frozenModels: [FrozenModel] { [refiner] }

    func loss(on batch: Batch, rng: inout Philox) -> (loss: Tensor, metrics: [String: Double]) {
        let (input, target) = inner.views(batch)
        return (mseLoss((refiner.module as! ProbeTask.Network)(inner.network(input)), target), [:])
    }

    func evaluate(on batches: [Batch], gridPath: String?) throws -> [String: Double] {
        try inner.evaluate(on: batches, gridPath: gridPath)
    }
}

/// The probe network as a child `probe` of a wrapper: keys `probe.conv_in.weight`, … (for
/// `init_from` key mappings).
final class NestedProbeTask: TrainingTask {
    final class Wrapper: Module {
        let probe: ProbeTask.Network
        init(_ probe: ProbeTask.Network) { self.probe = probe }
        var namedChildren: [(String, any Module)] { [("probe", probe)] }
    }
    let inner: ProbeTask
    let wrapper: Wrapper
    init(_ recipe: Recipe) throws {
        inner = try ProbeTask(recipe: recipe)
        wrapper = Wrapper(inner.network)
    }
    var model: any Module { wrapper }
    var viewSelection: ViewSelection { inner.viewSelection }
    func loss(on batch: Batch, rng: inout Philox) -> (loss: Tensor, metrics: [String: Double]) { inner.loss(on: batch, rng: &rng) }
    func evaluate(on batches: [Batch], gridPath: String?) throws -> [String: Double] { try inner.evaluate(on: batches, gridPath: gridPath) }
}

final class ParameterSetsTests: XCTestCase {
    func trainer(_ recipe: Recipe, say: @escaping (String) -> Void = { _ in }) throws -> Trainer {
        try Trainer(recipe: recipe, task: try TaskCatalog.make(recipe), communicator: SingleProcessCommunicator(), say: say)
    }

    /// A finished probe run to take weights from; returns its run folder.
    func sourceRun(kind: String = "probe") throws -> String {
        let run = "source-\(UUID().uuidString)"
        let recipe = try Recipe.load(file: TinyHeads.recipe(steps: 6, run: run), overrides: ["model.kind=\(kind)"])
        XCTAssertEqual(try trainer(recipe).run(), .finished)
        return TinyHeads.folder + "/runs/\(run)"
    }

    func testFrozenSubModelPassesGradientsIsNotCheckpointedAndIsRecordedBySource() throws {
        let source = try sourceRun()
        TaskCatalog.register("through-frozen") { try ThroughFrozenTask($0, source: source) }
        let run = "frozen-\(UUID().uuidString)"
        let recipe = try Recipe.load(file: TinyHeads.recipe(steps: 6, run: run), overrides: ["model.kind=through-frozen"])
        var said: [String] = []
        let trainer = try trainer(recipe) { said.append($0) }
        let task = trainer.task as! ThroughFrozenTask
        let initial = trainer.store.values.scalars
        XCTAssertEqual(try trainer.run(), .finished)

        // The frozen weights are the source's EMA weights, untouched; the trained ones moved,
        // which only gradients through the frozen network can do.
        let sourceCheckpoint = try CheckpointDirectory.resolve(path: source)
        let sourceFile = try sourceCheckpoint.safetensors("ema.safetensors")
        for e in task.refiner.store.entries {
            XCTAssertEqual(e.parameter.value.scalars, try sourceFile.tensor(e.name).scalars, e.name)
        }
        XCTAssertNotEqual(trainer.store.values.scalars, initial)
        XCTAssertTrue(said.contains { $0.contains("frozen sub-model 'refiner': \(task.refiner.module.parameterCount) parameters from "
                                                  + sourceCheckpoint.file("ema.safetensors").path) }, "\(said)")

        // The checkpoint holds the trained model once in each file and nothing of the frozen one…
        let checkpoint = try trainer.runFolder.resolve("latest")
        let trainedNames = trainer.store.entries.map(\.name).sorted()
        for file in ["model.safetensors", "ema.safetensors"] {
            XCTAssertEqual(try checkpoint.safetensors(file).names, trainedNames, file)
        }
        let optimizerState = try checkpoint.safetensors("optimizer.safetensors")
        XCTAssertEqual(try optimizerState.entry("adamw.exp_avg").count, trainer.store.count)

        // …and records where the frozen one came from: the step folder, not `latest`, and its hash.
        let weights = try checkpoint.safetensors("ema.safetensors")
        let recorded = try FrozenModelSources.read(weights)
        XCTAssertEqual(recorded, ["refiner": CheckpointReference(checkpoint: sourceCheckpoint.url.path, file: "ema.safetensors",
                                                                 sha256: try SHA256.hex(ofFile: sourceFile.path))])
        let resolved = try FrozenModelSources.resolve(weights)
        XCTAssertEqual(try resolved["refiner"]?.tensors().keys.sorted(), task.refiner.store.entries.map(\.name).sorted())
    }

    func testAFrozenSubModelInsideTheTrainedModelIsRefused() throws {
        let source = try sourceRun()
        TaskCatalog.register("sharing-frozen") { try ThroughFrozenTask($0, source: source, sharing: true) }
        let recipe = try Recipe.load(file: TinyHeads.recipe(steps: 2, run: "share-\(UUID().uuidString)"), overrides: ["model.kind=sharing-frozen"])
        XCTAssertThrowsError(try trainer(recipe)) {
            XCTAssertEqual("\($0)", "frozen sub-model 'refiner' shares parameter 'conv_in.weight' with the trained model; "
                           + "a frozen sub-model must not be part of `model`")
        }
    }

    /// One SGD step without momentum, decay or clipping: a group at lr × 0.5 moves exactly half
    /// as far as without groups, a frozen group not at all, the rest the same.
    func testParameterGroupsScaleAndFreeze() throws {
        let sgd = ["optimizer.kind=sgd", "optimizer.momentum=0", "optimizer.weight_decay=0", "optimizer.clip_grad_norm=0",
                   "optimizer.ema_decay=0", "schedule.kind=constant", "schedule.warmup_steps=0"]
        func displacement(_ groups: String) throws -> (moved: [String: [Float]], lines: [String]) {
            let path = TinyHeads.recipe(groups, steps: 1, run: "groups-\(UUID().uuidString)")
            var said: [String] = []
            let t = try trainer(try Recipe.load(file: path, overrides: sgd)) { said.append($0) }
            let before = t.store.stateDictionary()
            XCTAssertEqual(try t.run(), .finished)
            let after = t.store.stateDictionary()
            var moved: [String: [Float]] = [:]
            for (name, b) in before { moved[name] = zip(b.scalars, after[name]!.scalars).map { $0 - $1 } }
            return (moved, said.filter { $0.contains("parameter group") })
        }
        let plain = try displacement("").moved
        let (grouped, lines) = try displacement("""
            parameter_groups:
              middle: {prefix: conv_mid., lr_multiplier: 0.5}
              input: {prefix: conv_in, frozen: true}
            """)
        XCTAssertEqual(lines, ["relief-train: parameter group 'middle' ('conv_mid'): 2 tensors, 330 parameters, lr × 0.5",
                               "relief-train: parameter group 'input' ('conv_in'): 2 tensors, 168 parameters, frozen"])
        for name in ["conv_mid.weight", "conv_mid.bias"] {
            XCTAssertGreaterThan(plain[name]!.map(abs).max()!, 0)
            for (g, p) in zip(grouped[name]!, plain[name]!) { XCTAssertEqual(g, 0.5 * p, accuracy: 1e-6 + 1e-4 * abs(p)) }
        }
        for name in ["conv_in.weight", "conv_in.bias"] { XCTAssertTrue(grouped[name]!.allSatisfy { $0 == 0 }, name) }
        for name in ["conv_out.weight", "conv_out.bias"] { XCTAssertEqual(grouped[name], plain[name], name) }
    }

    func testBadParameterGroupsNameTheKey() throws {
        func error(_ groups: String) -> String {
            do { _ = try trainer(try Recipe.load(file: TinyHeads.recipe(groups, steps: 2, run: "bad-\(UUID().uuidString)"))) } catch {
                return "\(error)"
            }
            return "accepted"
        }
        XCTAssertTrue(error("parameter_groups: {a: {prefix: conv_in, lr_multipler: 2}}")
            .contains("parameter_groups.a.lr_multipler is not a known key (did you mean 'lr_multiplier'?)"))
        XCTAssertTrue(error("parameter_groups: {a: {prefix: conv_in, lr_multiplier: -1}}")
            .contains("parameter_groups.a.lr_multiplier is -1; must be at least 0.0"))
        XCTAssertTrue(error("parameter_groups: {a: {lr_multiplier: 2}}").contains("parameter_groups.a.prefix is required"))
        XCTAssertTrue(error("parameter_groups: {a: {prefix: conv_in, frozen: maybe}}").contains("parameter_groups.a.frozen is 'maybe'"))
        XCTAssertTrue(error("parameter_groups: {a: {prefix: conv_in}, b: {prefix: conv_in.}}")
            .contains("parameter_groups.b.prefix is 'conv_in', as in parameter_groups.a"))
        let nothing = error("parameter_groups: {a: {prefix: conv}}")
        XCTAssertTrue(nothing.contains("parameter_groups.a.prefix is 'conv' and holds no parameter of the model "
                                       + "(names look like conv_in.weight, conv_in.bias, conv_mid.weight, conv_mid.bias, …)"), nothing)
        XCTAssertTrue(error("parameter_groups: [conv_in]").contains("parameter_groups must be a section"))
    }

    /// A stand-alone model's weights into a sub-module (add_prefix), and back out (subtree);
    /// a mapping that fits nothing stops the run naming both sides' keys.
    func testInitFromMapsKeys() throws {
        TaskCatalog.register("nested-probe") { try NestedProbeTask($0) }
        let plain = try sourceRun()
        let plainWeights = try CheckpointDirectory.resolve(path: plain).safetensors("ema.safetensors")

        var said: [String] = []
        let nestedRecipe = try Recipe.load(file: TinyHeads.recipe("init_from: {checkpoint: \(plain), add_prefix: probe}", steps: 6,
                                                                  run: "nested-\(UUID().uuidString)"), overrides: ["model.kind=nested-probe"])
        let nested = try trainer(nestedRecipe) { said.append($0) }
        XCTAssertEqual(nested.store["probe.conv_mid.weight"]?.scalars, try plainWeights.tensor("conv_mid.weight").scalars)
        XCTAssertTrue(said.contains { $0.contains("mapped by add_prefix 'probe': 6 tensors loaded; missing (kept at initialisation): none") },
                      "\(said)")
        XCTAssertEqual(try nested.run(), .finished)

        let nestedWeights = try nested.runFolder.resolve("latest").safetensors("model.safetensors")
        let back = try trainer(try Recipe.load(file: TinyHeads.recipe(
            "init_from: {checkpoint: \(nested.runFolder.root.path), subtree: probe, weights: model, strict: true}", steps: 2,
            run: "back-\(UUID().uuidString)")))
        XCTAssertEqual(back.store["conv_out.bias"]?.scalars, try nestedWeights.tensor("probe.conv_out.bias").scalars)

        XCTAssertThrowsError(try trainer(try Recipe.load(file: TinyHeads.recipe("init_from: {checkpoint: \(plain), subtree: unet}", steps: 2,
                                                                              run: "none-\(UUID().uuidString)")))) {
            XCTAssertTrue("\($0)".contains("mapped by subtree 'unet': no tensor fits the model"), "\($0)")
        }
        // A checkpoint with one tensor more: reported and ignored, unless strict.
        var extended = try plainWeights.tensors()
        extended["extra.weight"] = Tensor(zeros: [2])
        let handmade = TinyHeads.folder + "/handmade-\(UUID().uuidString)/step-00000001"
        try FileManager.default.createDirectory(atPath: handmade, withIntermediateDirectories: true)
        try Safetensors.write(extended, to: URL(fileURLWithPath: handmade + "/model.safetensors"))
        said = []
        _ = try trainer(try Recipe.load(file: TinyHeads.recipe("init_from: \(handmade)", steps: 2, run: "loose-\(UUID().uuidString)"))) {
            said.append($0)
        }
        XCTAssertTrue(said.contains { $0.contains("6 tensors loaded; missing (kept at initialisation): none; unexpected (ignored): extra.weight") },
                      "\(said)")
        XCTAssertThrowsError(try trainer(try Recipe.load(file: TinyHeads.recipe("init_from: {checkpoint: \(handmade), strict: true}",
                                                                              steps: 2, run: "strict-\(UUID().uuidString)")))) {
            XCTAssertTrue("\($0)".contains("(strict): cannot load weights: unexpected keys: extra.weight"), "\($0)")
        }
        XCTAssertThrowsError(try Recipe.load(file: TinyHeads.recipe("init_from: {checkpoint: \(plain), add_prefx: probe}", steps: 2))) {
            XCTAssertTrue("\($0)".contains("init_from.add_prefx is not a known key (did you mean 'add_prefix'?)"), "\($0)")
        }
        XCTAssertThrowsError(try Recipe.load(file: TinyHeads.recipe("init_from: {subtree: probe}", steps: 2))) {
            XCTAssertTrue("\($0)".contains("init_from.checkpoint is required"), "\($0)")
        }
    }
}
