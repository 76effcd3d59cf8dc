import Checkpoints
import Datasets
import Distributed
import Foundation
import Layers
import Optimizers
import Tensors

/// The generic training loop: data-parallel over a `Communicator`, one `TrainingTask`.
///
/// Exactness: a step's gradient is the mean over its samples: each micro-batch's gradient is
/// computed into a zeroed buffer, weighted by its sample count, summed over W ranks × A
/// micro-batches and divided by the step's samples (a short or empty last batch of an epoch
/// weighs what its samples weigh). Micro-batch m of rank r reads the samples and random stream
/// of "slot" m·W + r, so W ranks × A micro-batches see the same data and draws however they are
/// split, and a run resumed from a checkpoint continues bit for bit. The logged loss and task
/// metrics are sample-weighted means over all ranks and micro-batches alike.
public final class Trainer {
    public enum Outcome: Equatable { case finished, stopped(signal: Int32) }

    public let recipe: Recipe
    public let task: any TrainingTask
    public let communicator: any Communicator
    public let store: ParameterStore
    public let optimizer: any Optimizer
    public let ema: ExponentialMovingAverage?
    public let schedule: LearningRateSchedule
    public let runFolder: CheckpointDirectory
    public private(set) var state: TrainerState
    private let train: ShardedDataset
    private let validation: ShardedDataset?
    private var loaders: [BatchLoader] = []
    private var accumulated: Tensor?
    private let bucketer: GradientBucketer
    private let say: (String) -> Void
    private var lastCheckpointStep: Int?
    private var lossCurve: [(x: Double, y: Double)] = []
    private var evalCurve: [(x: Double, y: Double)] = []
    private var watchdog: Watchdog?
    private var health = CheckpointHealth(maxWeightGrowth: 0, maxLossGrowth: 0, startingMagnitude: 0)
    /// A periodic checkpoint fell in a skipped-step streak and waits for the first good step.
    private var checkpointDeferred = false
    private var lastStepSeconds = 0.0
    private var warnedAboutStopTime = false
    /// Where the task's frozen sub-models came from, for the weights files' metadata.
    private let frozenSourcesMetadata: [String: String]

    var isRoot: Bool { communicator.rank == 0 }

    public init(recipe: Recipe, task: any TrainingTask, communicator: any Communicator, resume: String? = nil,
                say: @escaping (String) -> Void = { print($0); fflush(stdout) }) throws {
        self.recipe = recipe
        self.task = task
        self.communicator = communicator
        self.say = communicator.rank == 0 ? say : { _ in }
        store = ParameterStore(model: task.model, seed: recipe.seed)
        // Before the optimizer: it reads which parameters train, at what rate, once.
        let groupLines = try ParameterGroup.apply(recipe.parameterGroups, to: store)
        try FrozenModel.check(task.frozenModels, against: store)
        frozenSourcesMetadata = FrozenModel.metadata(task.frozenModels)
        let o = recipe.optimizer
        switch o.kind {
        case "sgd": optimizer = SGD(store: store, momentum: Float(o.momentum), weightDecay: Float(o.weightDecay))
        default: optimizer = AdamW(store: store, beta1: Float(o.beta1), beta2: Float(o.beta2), epsilon: Float(o.epsilon),
                                   weightDecay: Float(o.weightDecay))
        }
        let warmup: ExponentialMovingAverage.Warmup = switch o.emaWarmup {
        case "none": .none
        case "power": .power(invGamma: 1, power: 2.0 / 3.0)  // diffusers' EMAModel defaults
        default: .rational
        }
        ema = o.emaDecay > 0 ? ExponentialMovingAverage(store: store, decay: Float(o.emaDecay), warmup: warmup) : nil
        schedule = Trainer.schedule(recipe)
        runFolder = CheckpointDirectory(root: URL(fileURLWithPath: recipe.checkpointing.directory).appendingPathComponent(recipe.runName))
        state = TrainerState(recipe: recipe, worldSize: communicator.size)
        bucketer = GradientBucketer(buffer: UnsafeMutableBufferPointer(start: store.gradients.storage.base, count: store.count),
                                    bucketBytes: recipe.training.bucketMegabytes << 20, overlap: false, communicator: communicator)

        train = try ShardedDataset(recipe.data.train, split: IdentitySplit.train)
        if let v = recipe.data.validation {
            validation = try ShardedDataset(v, split: IdentitySplit.validation)
        } else {
            // No held-out split is allowed; a held-out split that cannot be read is an error naming the shard.
            validation = train.manifest.shards(of: IdentitySplit.validation).isEmpty ? nil
                : try ShardedDataset(recipe.data.train, split: IdentitySplit.validation)
        }
        let heldOut = validation.map { "\($0.count) held-out" } ?? "no held-out split"
        let layout = "\(communicator.size) rank(s) (\(communicator.kind)) × \(recipe.training.accumulation) micro-batch(es) × "
            + "\(recipe.training.batchSizePerRank) = \(state.globalBatch) samples per step"
        self.say("relief-train: run '\(recipe.runName)', model \(recipe.model.kind) with \(store.count) parameters, \(layout); "
            + "\(train.count) training samples, \(heldOut)")
        if !task.summary.isEmpty { self.say("relief-train: \(task.summary)") }
        for line in groupLines + task.frozenModels.map(\.summary) { self.say("relief-train: \(line)") }
        if state.globalBatch > train.count {
            let slots = communicator.size * recipe.training.accumulation
            let fewest = train.count / slots, most = (train.count + slots - 1) / slots
            let perSlot = fewest == most ? "\(most)" : "\(fewest)–\(most)"
            self.say("warning: the global batch (\(state.globalBatch) samples per step) exceeds the training set (\(train.count) samples): "
                + "each step draws all \(train.count) once, so the batch is effectively \(train.count), \(perSlot) per micro-batch "
                + "instead of \(recipe.training.batchSizePerRank); "
                + "lower training.batch_size_per_rank or training.accumulation, or use fewer ranks")
        }

        if isRoot {
            if let resume { try restore(from: resume) } else if let spec = recipe.initFrom { try initialise(from: spec) }
        }
        try synchroniseFromRoot()
        if recipe.training.accumulation > 1 { accumulated = Tensor(zeros: [store.count]) }
        try openLoaders()
    }

    static func schedule(_ recipe: Recipe) -> LearningRateSchedule {
        let lr = Float(recipe.optimizer.learningRate), s = recipe.schedule
        switch s.kind {
        case "constant": return .constant(lr)
        case "warmup": return .linearWarmup(peak: lr, warmupSteps: s.warmupSteps)
        case "piecewise": return .piecewiseConstant(boundaries: s.boundaries, values: s.factors.map { lr * Float($0) })
        default: return .cosine(peak: lr, warmupSteps: s.warmupSteps, totalSteps: recipe.training.steps,
                                floor: lr * Float(s.minLearningRateRatio))
        }
    }

    // MARK: - Starting points

    private func restore(from spec: String) throws {
        let checkpoint = spec == "latest" || Int(spec) != nil ? try runFolder.resolve(spec) : try CheckpointDirectory.resolve(path: spec)
        let saved = try checkpoint.json("trainer.json", as: TrainerState.self)
        try store.load(try checkpoint.safetensors("model.safetensors").tensors())
        try optimizer.loadState(try checkpoint.safetensors("optimizer.safetensors").tensors())
        if let ema { try ema.load(try checkpoint.safetensors("ema.safetensors").tensors(), updates: saved.emaUpdates) }
        if saved.recipeHash != recipe.hash {
            let savedTree = try? RecipeTree.parse(checkpoint.text("recipe.yaml"), file: checkpoint.url.path + "/recipe.yaml")
            let changes = savedTree.map { recipe.tree.differences(from: $0) }.map { $0.isEmpty ? "formatting only" : $0.joined(separator: "; ") }
            say("note: the recipe differs from the one saved with \(checkpoint.url.path) (\(changes ?? "its recipe.yaml cannot be read")); "
                + "continuing with the new one")
        }
        var resumed = saved
        resumed.worldSize = communicator.size
        resumed.accumulation = recipe.training.accumulation
        resumed.batchSizePerRank = recipe.training.batchSizePerRank
        resumed.recipeHash = recipe.hash
        if resumed.globalBatch != saved.globalBatch || saved.worldSize != communicator.size {
            // The cursor counts steps of the old global batch: carry the position in samples.
            let position = saved.cursor.step * saved.globalBatch
            resumed.cursor = .init(epoch: saved.cursor.epoch, step: position / resumed.globalBatch)
            say("resuming on \(communicator.size) rank(s) × \(recipe.training.accumulation) micro-batch(es) "
                + "(checkpoint: \(saved.worldSize) × \(saved.accumulation)): data re-sharded, epoch \(saved.cursor.epoch) "
                + "continues near sample \(position); the continuation is not bit-identical to an uninterrupted run")
        }
        state = resumed
        lastCheckpointStep = saved.step
        say("resumed from \(checkpoint.url.path) at step \(saved.step)")
    }

    private func initialise(from spec: InitFrom) throws {
        let checkpoint = try CheckpointDirectory.resolve(path: spec.checkpoint)
        let file = spec.fileName(in: checkpoint)
        let path = checkpoint.file(file).path
        let source = try checkpoint.safetensors(file).tensors()
        let weights = try spec.mapping.apply(source, file: path)
        let names = Set(store.entries.map(\.name))
        let missing = names.subtracting(weights.keys).sorted(), unexpected = Set(weights.keys).subtracting(names).sorted()
        let mapping = spec.mapping == .identity ? "" : " mapped by \(spec.mapping)"
        guard missing.count < names.count else {
            func sample(_ keys: [String]) -> String { keys.sorted().prefix(3).joined(separator: ", ") + (keys.count > 3 ? ", …" : "") }
            throw TrainingError("init_from \(path)\(mapping): no tensor fits the model; the checkpoint's keys"
                + "\(mapping.isEmpty ? "" : " (after mapping)") look like \(sample(Array(weights.keys))), the model's like \(sample(Array(names))); "
                + "see init_from's subtree, strip_prefix and add_prefix in recipes/README.md")
        }
        do { try store.load(weights, strict: spec.strict) } catch {
            throw TrainingError("init_from \(path)\(mapping)\(spec.strict ? " (strict)" : ""): \(error)")
        }
        say("init_from \(checkpoint.url.path) (\(file))\(mapping): \(names.count - missing.count) tensors loaded; "
            + "missing (kept at initialisation): \(missing.isEmpty ? "none" : missing.joined(separator: ", ")); "
            + "unexpected (ignored): \(unexpected.isEmpty ? "none" : unexpected.joined(separator: ", "))")
        ema?.average.storage.base.update(from: store.values.storage.base, count: store.count)
    }

    /// Every rank starts from rank 0's weights, optimizer state and position.
    private func synchroniseFromRoot() throws {
        guard communicator.size > 1 else { return }
        try broadcast(store.values)
        if let ema { try broadcast(ema.average) }
        let optimizerState = optimizer.state
        for key in optimizerState.keys.sorted() {
            try broadcast(optimizerState[key]!)  // `state` hands out copies: safe to overwrite
        }
        try optimizer.loadState(optimizerState)
        let json = try communicator.broadcast(string: String(decoding: try JSONEncoder().encode(state), as: UTF8.self))
        state = try JSONDecoder().decode(TrainerState.self, from: Data(json.utf8))
        // The averaged weights arrived above; this sets the update count that drives EMA warm-up.
        if let ema, !isRoot { try ema.load(ema.stateDictionary(), updates: state.emaUpdates) }
    }

    private func broadcast(_ t: Tensor) throws {
        try communicator.broadcast(UnsafeMutableRawBufferPointer(start: t.storage.base, count: t.count * 4), root: 0)
    }

    private func openLoaders() throws {
        guard let background = Background(rawValue: recipe.data.background) else {
            throw TrainingError("data.background '\(recipe.data.background)' is not a background")
        }
        let w = communicator.size, a = recipe.training.accumulation
        loaders = try (0..<a).map { m in
            var sampler = DistributedSampler(count: train.count, rank: m * w + communicator.rank, worldSize: w * a,
                                             batchSize: recipe.training.batchSizePerRank, shuffle: true, seed: recipe.seed)
            let cursor = DistributedSampler.Cursor(epoch: state.cursor.epoch, step: min(state.cursor.step, sampler.stepsPerEpoch - 1))
            sampler.seek(to: cursor)
            return try BatchLoader(dataset: train, sampler: sampler, selection: task.viewSelection, background: background,
                                   seed: recipe.seed, prefetch: recipe.data.loaderThreads)
        }
    }

    // MARK: - The loop

    public func run() throws -> Outcome {
        StopSignal.shared.install()
        let watchdog = try Watchdog(communicator: communicator, timeout: recipe.training.watchdogSeconds)
        self.watchdog = watchdog
        defer { watchdog.stop(); StopSignal.shared.impossibleBecause = nil }
        StopSignal.shared.impossibleBecause = { watchdog.describeGonePeers() }
        if isRoot, communicator.kind == "MPI" { say("relief-train: \(MPIStopAdvice().howToStop)") }
        // Every rank keeps the committed step, so that all take the same checkpoint branches.
        var committed = Int64(lastCheckpointStep ?? -1)
        try watchdog.waiting(for: "the broadcast of the last checkpoint") { try communicator.broadcast(&committed) }
        lastCheckpointStep = committed >= 0 ? Int(committed) : nil
        health = CheckpointHealth(maxWeightGrowth: recipe.checkpointing.maxWeightGrowth, maxLossGrowth: recipe.checkpointing.maxLossGrowth,
                                  startingMagnitude: isRoot ? weightMagnitude() : 0)
        let metrics = isRoot ? try openMetricsLog() : nil
        var progress = ProgressLine(totalSteps: recipe.training.steps)
        var window: [String: (sum: Double, count: Int)] = [:]
        let started = Clock.now
        progress.mark(step: state.step, time: 0, samples: state.samplesSeen)
        defer { loaders.forEach { $0.stop() } }

        while state.step < recipe.training.steps {
            watchdog.note("step \(state.step + 1)")
            if try watchdog.waiting(for: "the stop agreement", { try communicator.anyTrue(StopSignal.shared.isRequested) }) {
                let signal = StopSignal.shared.requestedBy ?? SIGTERM
                say("stopping at step \(state.step) on request (signal \(signal)); writing a checkpoint")
                try checkpoint(.stop)
                return .stopped(signal: signal)
            }
            let stepStarted = Clock.now
            let result = try step()
            lastStepSeconds = Clock.seconds(since: stepStarted)
            if let loss = result["loss"] { health.record(loss: loss) }
            progress.mark(step: state.step, time: Clock.seconds(since: started), samples: state.samplesSeen)
            for (k, v) in result where v.isFinite && k != "lr" { window[k, default: (0, 0)].sum += v; window[k, default: (0, 0)].count += 1 }
            if isRoot && (state.step % recipe.logging.every == 0 || state.step == 1 || state.step == recipe.training.steps) {
                // Means over the steps since the last line, so the curve is not one noisy batch per point.
                var row = result
                for (k, w) in window { row[k] = w.sum / Double(w.count) }
                window = [:]
                row["samples_per_s"] = progress.samplesPerSecond
                // A window of only skipped steps has no finite loss or gradient norm, and JSON has no NaN.
                state.lastMetrics = row.filter { $0.value.isFinite }
                try metrics?.append(row, step: state.step)
                say(progress.line(step: state.step, loss: result["loss"] ?? .nan, learningRate: result["lr"] ?? 0,
                                  extra: result.filter { !["loss", "lr", "samples_per_s"].contains($0.key) }))
                if let loss = result["loss"], loss.isFinite { lossCurve.append((Double(state.step), loss)) }
                try? plotCurves()
            }
            let every = recipe.evaluation.every
            if (every > 0 && state.step % every == 0) || state.step == recipe.training.steps { try evaluate(metrics) }
            if state.step == recipe.training.steps {
                try checkpoint(.final)
            } else if state.step % recipe.checkpointing.every == 0 || checkpointDeferred {
                try checkpoint(.periodic)
            }
        }
        return .finished
    }

    /// One optimizer step: A micro-batches, gradient averaging over ranks, the guarded update.
    private func step() throws -> [String: Double] {
        let a = recipe.training.accumulation
        store.zeroGradients()
        // Sums over this rank's samples: the loss, each task metric (with the samples it covers).
        var lossSum = 0.0, samples = 0.0, nonFinite = false, badSamples: [Int] = [], drawn = 0
        var metricSums: [String: (sum: Double, samples: Double)] = [:]
        var next = state.cursor
        task.willTrain(step: state.step)
        for m in 0..<a {
            let batch = try loaders[m].next()
            if m == 0 { next = batch.next }
            drawn += batch.count
            Tape.shared.reset()
            if batch.count > 0 {
                let slot = UInt64(m * communicator.size + communicator.rank)
                var rng = Philox(seed: recipe.seed, stream: 0x7_0000_0000 | UInt64(state.step) << 12 | slot)
                let (loss, metrics) = task.loss(on: batch, rng: &rng)
                let value = Double(loss.item), n = Double(batch.count)
                if value.isFinite {
                    // The task's loss is its batch's mean: seeded with the sample count, the
                    // gradients sum per sample, and dividing by the step's samples averages them,
                    // so a short or empty batch weighs what its samples weigh.
                    Tape.shared.backward(loss, seed: Tensor(repeating: Float(batch.count), shape: loss.shape))
                    lossSum += value * n
                    samples += n
                    for (k, v) in metrics { metricSums[k, default: (0, 0)].sum += v * n; metricSums[k, default: (0, 0)].samples += n }
                } else {
                    nonFinite = true
                    badSamples += batch.samples
                }
            }
            Tape.shared.reset()
            if let accumulated { accumulate(into: accumulated, first: m == 0) }
        }
        if let accumulated { store.gradients.storage.base.update(from: accumulated.storage.base, count: store.count) }

        let keys = try watchdog!.waiting(for: "the agreement on metric names") { try communicator.union(of: Array(metricSums.keys)) }
        var totals: [Double] = [lossSum, samples, nonFinite ? 1 : 0]
        for k in keys { totals += [metricSums[k]?.sum ?? 0, metricSums[k]?.samples ?? 0] }
        totals.append(Double(drawn))
        try watchdog!.waiting(for: "the allreduce of losses and metrics") { try communicator.allreduceSum(&totals) }
        let drawnByAllRanks = Int(totals.removeLast())  // every sample drawn, skipped or not: the last step of an epoch is short
        var row: [String: Double] = [:]
        for (i, k) in keys.enumerated() where totals[4 + 2 * i] > 0 { row[k] = totals[3 + 2 * i] / totals[4 + 2 * i] }
        let stepSamples = totals[1]
        row["loss"] = stepSamples > 0 ? totals[0] / stepSamples : .nan
        row["lr"] = Double(schedule.learningRate(at: state.step))

        var skippedBecause: String?
        if totals[2] > 0 {
            skippedBecause = diagnoseNonFinite(loss: true, samples: badSamples)
        } else {
            if communicator.size > 1 { try watchdog!.waiting(for: "the gradient allreduce") { try bucketer.finish(average: false) } }
            scaleGradients(by: 1 / Float(stepSamples))
            let clip = recipe.optimizer.clipGradNorm
            let report = optimizer.step(state.step, schedule: schedule, maxGradientNorm: clip > 0 ? Float(clip) : nil)
            row["grad_norm"] = Double(report.gradientNorm)
            if report.skipped { skippedBecause = diagnoseNonFinite(loss: false, samples: []) } else { ema?.update() }
        }
        if let why = skippedBecause {
            state.consecutiveNonFinite += 1
            say("step \(state.step + 1): skipped, \(why)")
            if state.consecutiveNonFinite >= recipe.training.maxNonFiniteSteps {
                throw TrainingError("step \(state.step + 1): stopping after \(state.consecutiveNonFinite) consecutive non-finite steps "
                    + "(training.max_nonfinite_steps): \(why). \(lastHealthyCheckpoint)")
            }
        } else {
            state.consecutiveNonFinite = 0
        }
        state.step += 1
        state.cursor = next
        state.samplesSeen += drawnByAllRanks
        state.emaUpdates = ema?.updates ?? 0
        return row
    }

    /// Adds this micro-batch's gradient (in the store's buffer) into `total`, then clears the
    /// buffer, so every micro-batch's gradient is computed alone, as a rank would.
    private func accumulate(into total: Tensor, first: Bool) {
        let g = store.gradients.storage.base, t = total.storage.base
        if first { t.update(from: g, count: store.count) } else {
            Parallel.forRanges(store.count) { r in for i in r { t[i] += g[i] } }
        }
        store.zeroGradients()
    }

    private func scaleGradients(by s: Float) {
        guard s != 1 else { return }
        let g = store.gradients.storage.base
        Parallel.forRanges(store.count) { r in for i in r { g[i] *= s } }
    }

    /// Names what went non-finite: a parameter, a gradient, or (with both finite) the loss on
    /// particular samples.
    private func diagnoseNonFinite(loss: Bool, samples: [Int]) -> String {
        func firstNonFinite(_ base: UnsafeMutablePointer<Float>) -> String? {
            store.entries.first { e in (0..<e.count).contains { !base[e.offset + $0].isFinite } }?.name
        }
        if let name = firstNonFinite(store.values.storage.base) { return "parameter '\(name)' holds non-finite values" }
        if !loss, let name = firstNonFinite(store.gradients.storage.base) { return "the gradient of '\(name)' is non-finite" }
        let which = samples.isEmpty ? "" : " on training samples \(samples.sorted().prefix(16).map(String.init).joined(separator: ", "))"
        return "the loss is non-finite\(which) while every parameter is finite"
    }

    // MARK: - Evaluation, logs, checkpoints

    private func evaluate(_ metrics: MetricsLog?) throws {
        guard isRoot, let validation, recipe.evaluation.samples > 0, let background = Background(rawValue: recipe.data.background) else { return }
        let assembler = BatchAssembler(dataset: validation, selection: task.viewSelection, background: background, seed: recipe.seed)
        var scratch = [UInt8](repeating: 0, count: validation.height * validation.width * 4)
        let n = min(recipe.evaluation.samples, validation.count), b = recipe.training.batchSizePerRank
        let batches = try stride(from: 0, to: n, by: b).map {
            try assembler.assemble(Array($0..<min(n, $0 + b)), cursor: .init(), next: .init(), scratch: &scratch)
        }
        let trained = store.values.copy()
        if let ema { store.copyValues(from: ema.average) }
        defer { store.copyValues(from: trained) }
        let every = recipe.logging.imagesEvery
        let wantsGrid = every > 0 && (state.step % every == 0 || state.step == recipe.training.steps)
        let gridFolder = runFolder.root.appendingPathComponent("eval")
        if wantsGrid { try FileManager.default.createDirectory(at: gridFolder, withIntermediateDirectories: true) }
        let grid = wantsGrid ? gridFolder.appendingPathComponent(String(format: "step-%08d.png", state.step)).path : nil
        let results = try withoutGradients { try task.evaluate(on: batches, gridPath: grid) }
        try metrics?.append(results, step: state.step, kind: "eval")
        if let grid { try metrics?.tensorBoard?.addImage(pngFile: grid, tag: "eval/grid", step: state.step) }
        if let psnr = results["psnr"] { evalCurve.append((Double(state.step), psnr)) }
        say("eval at step \(state.step) on \(n) held-out samples (\(ema == nil ? "weights" : "EMA weights")): "
            + results.sorted { $0.key < $1.key }.map { String(format: "%@ %.4g", $0.key, $0.value) }.joined(separator: "  ")
            + (grid.map { "  grid \($0)" } ?? ""))
        try? plotCurves()
    }

    private func plotCurves() throws {
        var loss = CurvePlot(title: "\(recipe.runName): training loss")
        loss.add("loss", lossCurve)
        try loss.writePNG(runFolder.root.appendingPathComponent("loss.png").path)
        if !evalCurve.isEmpty {
            var psnr = CurvePlot(title: "\(recipe.runName): held-out PSNR (dB)")
            psnr.logScale = false
            psnr.add("psnr", evalCurve)
            try psnr.writePNG(runFolder.root.appendingPathComponent("eval-psnr.png").path)
        }
    }

    enum CheckpointOccasion { case periodic, final, stop }

    /// Only healthy weights are committed (`CheckpointHealth`), so `latest` always names a
    /// checkpoint worth resuming. During a skipped-step streak a periodic checkpoint waits for the
    /// first good step; exploded weights stop the run. Rank 0 writes; a failed write is reported
    /// and the previous checkpoint stays `latest`; only a final or stop checkpoint's failure
    /// stops the run (non-zero exit). Every rank then learns the committed step.
    private func checkpoint(_ occasion: CheckpointOccasion) throws {
        guard lastCheckpointStep != state.step else { return }
        // The streak is agreed by all ranks, so all take this branch together.
        if let why = CheckpointHealth.deferral(skippedStreak: state.consecutiveNonFinite) {
            checkpointDeferred = occasion == .periodic
            switch occasion {
            case .periodic: say("checkpoint at step \(state.step) deferred to the first good step: \(why). \(lastHealthyCheckpoint)")
            case .stop: say("no checkpoint at step \(state.step): \(why). \(lastHealthyCheckpoint)")
            case .final: throw TrainingError("the final checkpoint (step \(state.step)) was not written: \(why). \(lastHealthyCheckpoint)")
            }
            return
        }
        checkpointDeferred = false
        var committed = Int64(-1)
        if isRoot { committed = try commitIfHealthy(mustSucceed: occasion != .periodic) }
        try watchdog!.waiting(for: "the broadcast of the committed checkpoint") { try communicator.broadcast(&committed) }
        if committed >= 0 { lastCheckpointStep = Int(committed) }
    }

    /// Rank 0: the committed step, or -1 when the write failed.
    private func commitIfHealthy(mustSucceed: Bool) throws -> Int64 {
        let magnitude = weightMagnitude()
        if case .exploded(let why) = health.judge(magnitude: magnitude) {
            throw TrainingError("step \(state.step): \(why); not checkpointed, stopping the run. \(lastHealthyCheckpoint)")
        }
        let c = recipe.checkpointing
        let started = Clock.now
        do {
            let metadata = ["format": "relief", "model": recipe.model.kind].merging(task.checkpointMetadata) { $1 }
                .merging(frozenSourcesMetadata) { $1 }
            let written = try runFolder.commit(step: state.step, retention: RetentionPolicy(keepLast: c.keepLast, keepEvery: c.keepEvery > 0 ? c.keepEvery : nil)) { s in
                try s.writeSafetensors("model.safetensors", store.stateDictionary(), metadata: metadata)
                if let ema { try s.writeSafetensors("ema.safetensors", ema.stateDictionary(), metadata: metadata.merging(
                    EMAMetadata.values(updates: ema.updates, decay: Double(ema.decay), initialShare: ema.initialShare)) { $1 }) }
                try s.writeSafetensors("optimizer.safetensors", optimizer.state)
                try s.writeJSON("trainer.json", state)
                try s.writeText("recipe.yaml", recipe.tree.yaml())
            }
            let seconds = Clock.seconds(since: started)
            health.accept(magnitude: magnitude)
            say("checkpoint \(written.url.path) (written in \(String(format: "%.1f", seconds)) s)")
            warnIfAStopCannotFinish(checkpointSeconds: seconds)
            return Int64(state.step)
        } catch {
            let kept = lastCheckpointStep.map { "step \($0) stays latest" } ?? "no earlier checkpoint exists"
            say("checkpoint at step \(state.step) failed: \(error); \(kept)")
            if mustSucceed { throw TrainingError("the final checkpoint could not be written: \(error)") }
            return -1
        }
    }

    /// Under mpirun a stop must fit in the time Open MPI leaves between SIGTERM and SIGKILL.
    private func warnIfAStopCannotFinish(checkpointSeconds: Double) {
        guard communicator.kind == "MPI", !warnedAboutStopTime else { return }
        warnedAboutStopTime = true
        if let warning = MPIStopAdvice().warning(stopSeconds: lastStepSeconds + checkpointSeconds) { say("warning: \(warning)") }
    }

    /// What a user can resume from, for messages that end a run.
    private var lastHealthyCheckpoint: String {
        guard let step = lastCheckpointStep else { return "No checkpoint has been written: there is nothing to resume from." }
        let namedByLatest = (try? runFolder.latestStep()) == step
        return "The last healthy checkpoint is step \(step)" + (namedByLatest ? " (\(runFolder.url(step: step).path)), which 'latest' names." : ".")
    }

    /// max |w| over the weights a checkpoint saves (NaN when any is non-finite).
    private func weightMagnitude() -> Double {
        let own = CheckpointHealth.magnitude(store.values.storage.base, count: store.count)
        guard let ema else { return own }
        let averaged = CheckpointHealth.magnitude(ema.average.storage.base, count: ema.average.count)
        return own.isNaN || averaged.isNaN ? .nan : max(own, averaged)
    }

    /// metrics.jsonl of this run; after a resume, rows past the resumed step (written by the
    /// interrupted run after its last checkpoint) are dropped so the log matches the weights.
    private func openMetricsLog() throws -> MetricsLog {
        try FileManager.default.createDirectory(at: runFolder.root, withIntermediateDirectories: true)
        let path = runFolder.root.appendingPathComponent("metrics.jsonl").path
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let kept = text.split(separator: "\n").filter { line in
                guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let s = o["step"] as? Int else { return false }
                return s <= state.step
            }
            try (kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).write(toFile: path, atomically: true, encoding: .utf8)
            lossCurve = MetricsLog.read(path: path).compactMap { r in r.values["loss"].map { (Double(r.step), $0) } }
            evalCurve = MetricsLog.read(path: path, kind: "eval").compactMap { r in r.values["psnr"].map { (Double(r.step), $0) } }
        }
        let log = try MetricsLog(path: path)
        if recipe.logging.tensorboard {
            log.tensorBoard = try TensorBoardWriter(folder: runFolder.root, continuingAfter: state.step, recipe: recipe.tree.yaml(), note: say)
        }
        return log
    }
}
