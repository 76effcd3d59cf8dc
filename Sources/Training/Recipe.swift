import Datasets
import Foundation

/// A training recipe: everything a run needs, checked before the first step. The schema,
/// with every key and its default, is documented in `recipes/README.md`.
public struct Recipe {
    public struct Model { public var kind: String; public var section: RecipeSection }
    public struct Data {
        public var train: String
        public var validation: String?
        public var background: String
        public var loaderThreads: Int
    }
    public struct Views {
        public var inputs: Int; public var supervision: Int; public var nearInputs: Bool
        /// The diffusion model's ring selection: nil, `any` or `front` (see `ringSelection`).
        public var ring: String?
        public var reconstructInput: Bool
        /// `views.inputs: diffusion`: the inputs are the six diffusion views of the ring's α
        /// (`diffusionInputSelection`); `inputs` is then 6.
        public var diffusionInputs = false
    }
    public struct Optimizer {
        public var kind: String
        public var learningRate, beta1, beta2, epsilon, weightDecay, momentum, clipGradNorm, emaDecay: Double
        /// `rational`, `power` or `none` (see `ExponentialMovingAverage`).
        public var emaWarmup: String
    }
    public struct Schedule {
        public var kind: String
        public var warmupSteps: Int
        public var minLearningRateRatio: Double
        public var boundaries: [Int]
        public var factors: [Double]
    }
    public struct Training {
        public var steps, batchSizePerRank, accumulation, maxNonFiniteSteps, bucketMegabytes: Int
        /// Longest wait in a collective before the watchdog aborts the job naming the missing rank; 0 = off.
        public var watchdogSeconds: Double
    }
    public struct Evaluation { public var every, samples: Int }
    public struct Checkpointing {
        public var directory: String
        public var every, keepLast, keepEvery: Int
        /// What makes a checkpoint healthy (see `CheckpointHealth`); 0 turns a rule off.
        public var maxWeightGrowth, maxLossGrowth: Double
    }
    public struct Logging { public var every, imagesEvery: Int; public var tensorboard: Bool }

    public var runName: String
    public var seed: UInt64
    public var initFrom: InitFrom?
    public var parameterGroups: [ParameterGroup]
    public var model: Model
    public var data: Data
    public var views: Views
    public var optimizer: Optimizer
    public var schedule: Schedule
    public var training: Training
    public var evaluation: Evaluation
    public var checkpointing: Checkpointing
    public var logging: Logging
    /// The recipe as resolved (file plus overrides), saved beside every checkpoint.
    public var tree: RecipeTree

    /// Reads `file`, applies `--set key.path=value` overrides, and checks every key.
    public static func load(file: String, overrides: [String] = []) throws -> Recipe {
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw RecipeError(file: file, line: nil, key: nil, message: "cannot be read: \(error.localizedDescription)")
        }
        var tree = try RecipeTree.parse(text, file: file)
        for o in overrides {
            guard let eq = o.firstIndex(of: "=") else {
                throw RecipeError(file: "--set \(o)", line: nil, key: nil, message: "must look like key.path=value")
            }
            try tree.set(String(o[..<eq]), to: String(o[o.index(after: eq)...]))
        }
        let stem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        return try Recipe(tree: tree, defaultRunName: stem)
    }

    public init(tree: RecipeTree, defaultRunName: String) throws {
        self.tree = tree
        let root = try RecipeSection(tree)
        runName = try root.string("run_name", default: defaultRunName)
        seed = UInt64(try root.int("seed", default: 0, min: 0))
        initFrom = try InitFrom.read(root)
        parameterGroups = try ParameterGroup.read(root)

        let m = try root.section("model")
        model = Model(kind: try m.string("kind"), section: m)

        let d = try root.section("data")
        data = Data(train: try d.string("train"), validation: try d.optionalString("validation"),
                    background: try d.string("background", default: "white", oneOf: ["white", "black", "gray", "random"]),
                    loaderThreads: try d.int("prefetch_batches", default: 2, min: 1, max: 64))
        try d.finish()

        let v = try root.section("views")
        let ring = try v.string("ring", default: "none", oneOf: ["none", "any", "front"])
        // `inputs` is a count, or `diffusion`: the six views the diffusion model makes.
        let inputsText = try v.optionalString("inputs"), diffusionInputs = inputsText == "diffusion"
        if let inputsText, !diffusionInputs, Int(inputsText.replacingOccurrences(of: "_", with: "")) == nil {
            throw v.error("inputs", nil, "is '\(inputsText)'; expected a whole number or diffusion (the six diffusion views of views.ring's α)")
        }
        views = Views(inputs: diffusionInputs ? DiffusionRing.targetSteps.count : try v.int("inputs", default: 4, min: 1),
                      supervision: try v.int("supervision", default: 8, min: 1),
                      nearInputs: try v.bool("near_inputs", default: false), ring: ring == "none" ? nil : ring,
                      reconstructInput: try v.bool("reconstruct_input", default: true), diffusionInputs: diffusionInputs)
        try v.finish()
        if diffusionInputs {
            if views.ring == nil {
                throw v.error("inputs", nil, "is diffusion: set views.ring to any or front, where the six views' α lies")
            }
            if v.has("reconstruct_input") {
                throw v.error("reconstruct_input", nil, "does not apply with views.inputs: diffusion (the inputs are always α + {0, 45, 90, 180, 270, 315}°)")
            }
        // The ring fixes the views (a condition and six targets): the k/m keys would be ignored.
        } else if views.ring != nil, let other = ["inputs", "supervision", "near_inputs"].first(where: v.has) {
            throw v.error(other, nil, "does not apply with views.ring (\(ring)): the ring gives each sample a condition view and six targets "
                          + "(views.inputs: diffusion makes its six views a reconstructor's inputs)")
        }
        if views.ring == nil && v.has("reconstruct_input") {
            throw v.error("reconstruct_input", nil, "applies only with views.ring (any or front)")
        }
        if views.supervision < views.inputs {
            throw v.error("supervision", nil, "is \(views.supervision); must be at least views.inputs (\(views.inputs)): inputs are supervised too")
        }

        let o = try root.section("optimizer")
        optimizer = Optimizer(
            kind: try o.string("kind", default: "adamw", oneOf: ["adamw", "sgd"]),
            learningRate: try o.double("lr", default: 4e-4, min: 0, exclusiveMin: true),
            beta1: try o.double("beta1", default: 0.9, min: 0, max: 0.999999),
            beta2: try o.double("beta2", default: 0.95, min: 0, max: 0.999999),
            epsilon: try o.double("eps", default: 1e-8, min: 0, exclusiveMin: true),
            weightDecay: try o.double("weight_decay", default: 0.05, min: 0),
            momentum: try o.double("momentum", default: 0.9, min: 0, max: 0.999999),
            clipGradNorm: try o.double("clip_grad_norm", default: 1.0, min: 0),
            emaDecay: try o.double("ema_decay", default: 0.999, min: 0, max: 0.999999),
            emaWarmup: try o.string("ema_warmup", default: "rational", oneOf: ["rational", "power", "none"]))
        try o.finish()

        let s = try root.section("schedule")
        schedule = Schedule(kind: try s.string("kind", default: "cosine", oneOf: ["constant", "warmup", "cosine", "piecewise"]),
                            warmupSteps: try s.int("warmup_steps", default: 0, min: 0),
                            minLearningRateRatio: try s.double("min_lr_ratio", default: 0.1, min: 0, max: 1),
                            boundaries: try s.ints("boundaries", default: []),
                            factors: try s.doubles("factors", default: []))
        try s.finish()
        if schedule.kind == "piecewise" && schedule.factors.count != schedule.boundaries.count + 1 {
            throw s.error("factors", nil, "has \(schedule.factors.count) values; piecewise needs one more than schedule.boundaries (\(schedule.boundaries.count))")
        }

        let t = try root.section("training")
        training = Training(steps: try t.int("steps", min: 1), batchSizePerRank: try t.int("batch_size_per_rank", default: 1, min: 1),
                            accumulation: try t.int("accumulation", default: 1, min: 1),
                            maxNonFiniteSteps: try t.int("max_nonfinite_steps", default: 5, min: 1),
                            bucketMegabytes: try t.int("allreduce_bucket_mb", default: 25, min: 1),
                            watchdogSeconds: try t.double("watchdog_seconds", default: 900, min: 0))
        try t.finish()
        if schedule.warmupSteps > training.steps {
            throw s.error("warmup_steps", nil, "is \(schedule.warmupSteps); must not exceed training.steps (\(training.steps))")
        }

        let e = try root.section("evaluation")
        evaluation = Evaluation(every: try e.int("every", default: 500, min: 0), samples: try e.int("samples", default: 8, min: 0))
        try e.finish()

        let c = try root.section("checkpoint")
        checkpointing = Checkpointing(directory: try c.string("dir", default: "checkpoints"), every: try c.int("every", default: 1000, min: 1),
                                      keepLast: try c.int("keep_last", default: 3, min: 1), keepEvery: try c.int("keep_every", default: 0, min: 0),
                                      maxWeightGrowth: try c.double("max_weight_growth", default: 100, min: 0),
                                      maxLossGrowth: try c.double("max_loss_growth", default: 10, min: 0))
        try c.finish()

        let l = try root.section("logging")
        logging = Logging(every: try l.int("every", default: 10, min: 1), imagesEvery: try l.int("images_every", default: 500, min: 0),
                          tensorboard: try l.bool("tensorboard", default: true))
        try l.finish()

        try root.finish()
    }

    /// An error about the value at `dotted.path` found after loading (by a task), placed where
    /// the value was written.
    public func error(_ dottedPath: String, _ message: String) -> RecipeError {
        let o = tree.origin(of: dottedPath) ?? tree.origin
        return RecipeError(file: o.file, line: o.line, key: dottedPath, message: message)
    }

    /// FNV-1a of the resolved recipe text: stored in checkpoints to notice a changed recipe on resume.
    public var hash: String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in tree.yaml().utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(format: "%016llx", h)
    }
}
