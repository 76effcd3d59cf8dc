import Datasets
import Foundation

/// `trainer.json`: where a run stands, everything besides the weights needed to continue it
/// exactly (optimizer moments live in `optimizer.safetensors`).
public struct TrainerState: Codable, Equatable {
    /// Optimizer steps completed.
    public var step: Int
    /// Sampler position of the next step (epoch, step within the epoch).
    public var cursor: DistributedSampler.Cursor
    /// Samples consumed so far, over all ranks.
    public var samplesSeen: Int
    public var worldSize: Int
    public var accumulation: Int
    public var batchSizePerRank: Int
    /// Every random draw is Philox(seed, stream derived from step and micro-batch slot): the
    /// generator state is the seed plus the step above.
    public var seed: UInt64
    public var emaUpdates: Int
    public var consecutiveNonFinite: Int
    public var recipeHash: String
    public var lastMetrics: [String: Double]

    public init(recipe: Recipe, worldSize: Int) {
        step = 0
        cursor = .init()
        samplesSeen = 0
        self.worldSize = worldSize
        accumulation = recipe.training.accumulation
        batchSizePerRank = recipe.training.batchSizePerRank
        seed = recipe.seed
        emaUpdates = 0
        consecutiveNonFinite = 0
        recipeHash = recipe.hash
        lastMetrics = [:]
    }

    /// Samples one optimizer step consumes across all ranks.
    public var globalBatch: Int { worldSize * accumulation * batchSizePerRank }
}
