import Datasets
import Foundation
import XCTest
@testable import Training

final class RecipeTests: XCTestCase {
    let minimal = """
    seed: 7
    model:
      kind: gslrm
      width: 64
    data:
      train: data/heads
    training:
      steps: 100
      batch_size_per_rank: 2
    """

    func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "recipe-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func loadError(_ text: String, overrides: [String] = []) throws -> String {
        let path = try write(text)
        do {
            _ = try Recipe.load(file: path, overrides: overrides)
        } catch let e as RecipeError {
            return e.description.replacingOccurrences(of: path, with: "R")
        }
        XCTFail("recipe was accepted:\n\(text)")
        return ""
    }

    func testMinimalRecipeFillsDefaults() throws {
        let r = try Recipe.load(file: try write(minimal))
        XCTAssertEqual(r.seed, 7)
        XCTAssertEqual(r.model.kind, "gslrm")
        XCTAssertEqual(try r.model.section.int("width"), 64)
        XCTAssertEqual(r.training.batchSizePerRank, 2)
        XCTAssertEqual(r.training.accumulation, 1)
        XCTAssertEqual(r.optimizer.kind, "adamw")
        XCTAssertEqual(r.optimizer.learningRate, 4e-4)
        XCTAssertEqual(r.views.inputs, 4)
        XCTAssertEqual(r.data.background, "white")
        XCTAssertEqual(r.checkpointing.keepLast, 3)
    }

    func testUnknownKeyIsNamedWithLineAndSuggestion() throws {
        let e = try loadError(minimal + "\n  batch_size_per_rnak: 3\n")
        XCTAssertEqual(e, "R:10: training.batch_size_per_rnak is not a known key (did you mean 'batch_size_per_rank'?)")
        let top = try loadError(minimal + "\nsed: 3\n")
        XCTAssertTrue(top.hasPrefix("R:10: sed is not a known key (did you mean 'seed'?)"), top)
    }

    func testWrongTypeAndImpossibleValues() throws {
        XCTAssertEqual(try loadError(minimal.replacingOccurrences(of: "steps: 100", with: "steps: many")),
                       "R:8: training.steps is 'many'; expected a whole number")
        XCTAssertEqual(try loadError(minimal.replacingOccurrences(of: "steps: 100", with: "steps: 0")),
                       "R:8: training.steps is 0; must be at least 1")
        XCTAssertEqual(try loadError(minimal + "\noptimizer:\n  lr: -1\n"),
                       "R:11: optimizer.lr is -1; must be greater than 0.0")
        XCTAssertEqual(try loadError(minimal + "\ndata2: {}\n").prefix(6), "R:10: ")
        XCTAssertEqual(try loadError(minimal + "\noptimizer:\n  kind: adam\n"),
                       "R:11: optimizer.kind is 'adam'; expected one of adamw, sgd")
        XCTAssertEqual(try loadError(minimal + "\nviews:\n  inputs: 4\n  supervision: 2\n"),
                       "R:12: views.supervision is 2; must be at least views.inputs (4): inputs are supervised too")
        XCTAssertTrue(try loadError(minimal + "\nschedule:\n  kind: piecewise\n  boundaries: [10]\n  factors: [1]\n")
            .contains("schedule.factors has 1 values"))
    }

    func testRingViewKeysGiveTheDiffusionSelection() throws {
        XCTAssertNil(try Recipe.load(file: try write(minimal)).views.ringSelection)
        let any = try Recipe.load(file: try write(minimal + "\nviews:\n  ring: any\n"))
        XCTAssertEqual(any.views.ringSelection, .ring(condition: .any, reconstructInput: true))
        let front = try Recipe.load(file: try write(minimal + "\nviews: {ring: front, reconstruct_input: false}\n"))
        XCTAssertEqual(front.views.ringSelection, .ring(condition: .front, reconstructInput: false))
        XCTAssertEqual(try loadError(minimal + "\nviews:\n  ring: back\n"), "R:11: views.ring is 'back'; expected one of none, any, front")
        XCTAssertEqual(try loadError(minimal + "\nviews:\n  ring: any\n  inputs: 2\n"),
                       "R:12: views.inputs does not apply with views.ring (any): the ring gives each sample a condition view and six targets "
                       + "(views.inputs: diffusion makes its six views a reconstructor's inputs)")
        XCTAssertEqual(try loadError(minimal + "\nviews:\n  reconstruct_input: false\n"),
                       "R:11: views.reconstruct_input applies only with views.ring (any or front)")
        XCTAssertEqual(try loadError(minimal + "\nviews:\n  ring: any\n  reconstruct_inptu: false\n"),
                       "R:12: views.reconstruct_inptu is not a known key (did you mean 'reconstruct_input'?)")
        // A family that does not use the ring refuses it rather than ignoring it.
        let probe = try Recipe.load(file: try write(minimal.replacingOccurrences(of: "kind: gslrm\n  width: 64", with: "kind: probe")
                                                    + "\nviews:\n  ring: front\n"))
        XCTAssertThrowsError(try TaskCatalog.make(probe)) {
            XCTAssertTrue("\($0)".hasSuffix(":10: views.ring is 'front', but model.kind 'probe' does not train on the diffusion ring"), "\($0)")
        }
    }

    func testDiffusionInputsKeysGiveTheReconstructorsSelection() throws {
        let any = try Recipe.load(file: try write(minimal + "\nviews:\n  inputs: diffusion\n  ring: any\n  supervision: 14\n"))
        XCTAssertEqual(any.views.inputs, 6)
        XCTAssertNil(any.views.ringSelection, "not the diffusion model's condition + six targets")
        XCTAssertEqual(any.views.diffusionInputSelection, .diffusionInputs(condition: .any, supervision: 8, nearInputs: false))
        let front = try Recipe.load(file: try write(minimal + "\nviews: {inputs: diffusion, ring: front, near_inputs: true}\n"))
        XCTAssertEqual(front.views.diffusionInputSelection, .diffusionInputs(condition: .front, supervision: 2, nearInputs: true))
        XCTAssertNil(try Recipe.load(file: try write(minimal)).views.diffusionInputSelection)
        XCTAssertNil(try Recipe.load(file: try write(minimal + "\nviews:\n  ring: any\n")).views.diffusionInputSelection)

        XCTAssertEqual(try loadError(minimal + "\nviews:\n  inputs: diffusion\n"),
                       "R:11: views.inputs is diffusion: set views.ring to any or front, where the six views' α lies")
        XCTAssertEqual(try loadError(minimal + "\nviews:\n  inputs: difusion\n  ring: any\n"),
                       "R:11: views.inputs is 'difusion'; expected a whole number or diffusion (the six diffusion views of views.ring's α)")
        XCTAssertEqual(try loadError(minimal + "\nviews:\n  inputs: diffusion\n  ring: any\n  supervision: 4\n"),
                       "R:13: views.supervision is 4; must be at least views.inputs (6): inputs are supervised too")
        XCTAssertEqual(try loadError(minimal + "\nviews:\n  inputs: diffusion\n  ring: any\n  reconstruct_input: false\n"),
                       "R:13: views.reconstruct_input does not apply with views.inputs: diffusion (the inputs are always α + {0, 45, 90, 180, 270, 315}°)")
        // A family that does not take them refuses them rather than drawing 6 random views
        // (gslrm takes them: ReconstructionTaskTests).
        let probe = try Recipe.load(file: try write(minimal.replacingOccurrences(of: "kind: gslrm\n  width: 64", with: "kind: probe")
                                                    + "\nviews:\n  inputs: diffusion\n  ring: front\n  supervision: 7\n"))
        XCTAssertThrowsError(try TaskCatalog.make(probe)) {
            XCTAssertTrue("\($0)".hasSuffix(":10: views.inputs is 'diffusion', but model.kind 'probe' does not take the six diffusion views as inputs"), "\($0)")
        }
    }

    func testMissingRequiredKeyAndBadYAML() throws {
        XCTAssertEqual(try loadError("model:\n  kind: gslrm\ntraining:\n  steps: 3\n"), "R: data.train is required")
        XCTAssertTrue(try loadError("model: [unclosed\n").hasPrefix("R: is not valid YAML"))
        XCTAssertEqual(try loadError(minimal + "\nseed: 3\n"), "R:10: seed appears twice")
    }

    func testOverridesApplyAndAreNamedInErrors() throws {
        let path = try write(minimal)
        let r = try Recipe.load(file: path, overrides: ["optimizer.lr=3e-4", "training.steps=5", "model.width=32"])
        XCTAssertEqual(r.optimizer.learningRate, 3e-4)
        XCTAssertEqual(r.training.steps, 5)
        XCTAssertEqual(try r.model.section.int("width"), 32)
        XCTAssertEqual(try loadError(minimal, overrides: ["training.stepz=5"]),
                       "--set training.stepz=5: training.stepz is not a known key (did you mean 'steps'?)")
        XCTAssertEqual(try loadError(minimal, overrides: ["training.steps=x"]),
                       "--set training.steps=x: training.steps is 'x'; expected a whole number")
        XCTAssertEqual(try loadError(minimal, overrides: ["nokey"]), "--set nokey: must look like key.path=value")
    }

    func testCrossKeyErrorsPointAtTheValueWhereverItCameFrom() throws {
        let withViews = minimal + "\nviews:\n  inputs: 4\n  supervision: 8\n"
        // The value came from --set: the error names the --set, not the file's views section.
        XCTAssertEqual(try loadError(withViews, overrides: ["views.supervision=2"]),
                       "--set views.supervision=2: views.supervision is 2; must be at least views.inputs (4): inputs are supervised too")
        // Written in the file: its own line, not the section's.
        XCTAssertEqual(try loadError(minimal + "\nschedule:\n  kind: cosine\n  warmup_steps: 500\n"),
                       "R:12: schedule.warmup_steps is 500; must not exceed training.steps (100)")
        // A list given with --set has no line of its own.
        XCTAssertEqual(try loadError(minimal, overrides: ["schedule.boundaries=[a, 2]"]),
                       "--set schedule.boundaries=[a, 2]: schedule.boundaries must list numbers")
        let path = try write(minimal)
        let recipe = try Recipe.load(file: path, overrides: ["model.kind=gslrn"])
        XCTAssertThrowsError(try TaskCatalog.make(recipe)) {
            XCTAssertTrue("\($0)".hasPrefix("--set model.kind=gslrn: model.kind is 'gslrn'; known kinds:"), "\($0)")
        }
    }

    func testMisspeltRequiredKeyIsNamedWhereItWasWritten() throws {
        XCTAssertEqual(try loadError(minimal.replacingOccurrences(of: "  train: data/heads", with: "  trian: data/heads")),
                       "R:6: data.trian is not a known key (did you mean 'train'? it is required)")
        XCTAssertEqual(try loadError(minimal.replacingOccurrences(of: "  steps: 100", with: "  step: 100")),
                       "R:8: training.step is not a known key (did you mean 'steps'? it is required)")
        // Nothing close: plainly required, at the section.
        XCTAssertEqual(try loadError(minimal.replacingOccurrences(of: "  train: data/heads", with: "  folder: data/heads")),
                       "R:6: data.train is required")
    }

    func testDifferencesListChangedAddedAndRemovedKeys() throws {
        let old = try RecipeTree.parse(minimal, file: "old")
        var new = old
        try new.set("training.steps", to: "200")
        try new.set("optimizer.lr", to: "0.001")
        XCTAssertEqual(new.differences(from: old), ["optimizer.lr: (absent) → 0.001", "training.steps: 100 → 200"])
        XCTAssertEqual(old.differences(from: new), ["optimizer.lr: 0.001 → (absent)", "training.steps: 200 → 100"])
        XCTAssertEqual(old.differences(from: try RecipeTree.parse(old.yaml(), file: "again")), [])
    }

    func testResolvedRecipeRoundTripsThroughYAML() throws {
        let r = try Recipe.load(file: try write(minimal), overrides: ["optimizer.lr=0.001"])
        let again = try Recipe(tree: try RecipeTree.parse(r.tree.yaml(), file: "saved"), defaultRunName: "x")
        XCTAssertEqual(again.optimizer.learningRate, 0.001)
        XCTAssertEqual(again.hash, r.hash)
        XCTAssertNotEqual(try Recipe.load(file: try write(minimal)).hash, r.hash)
    }
}
