import Datasets
import Tensors

/// The training set as a predictor of a held-out head (`PipelineEvaluation`'s baselines): its
/// ring views, to find the subject nearest to a condition view, and its mean view at every
/// camera. Valid only where every subject is seen by the same cameras (`problem`).
struct TrainingSetBaselines {
    let train: ShardedDataset
    let ring: DiffusionBaselines.RingImages
    /// The mean training view at each camera, [V, 3, H, W] on white.
    let mean: Tensor

    init(train: ShardedDataset) throws {
        self.train = train
        ring = try DiffusionBaselines.RingImages(train)
        var sum = Tensor(repeating: 0, shape: [train.views, 3, train.height, train.width])
        for s in 0..<train.count { sum = sum + (try Self.views(of: s, in: train)) }
        mean = sum * (1 / Float(max(train.count, 1)))
    }

    /// Training subject `s`'s views on white, [V, 3, H, W].
    func views(of s: Int) throws -> Tensor { try Self.views(of: s, in: train) }

    static func views(of s: Int, in dataset: ShardedDataset) throws -> Tensor {
        var scratch = [UInt8]()
        let all = BatchAssembler(dataset: dataset, selection: .fixed(Array(0..<dataset.views)), background: .white, seed: 0)
        return try all.assemble([s], cursor: .init(), next: .init(), scratch: &scratch).images
            .reshaped([dataset.views, 3, dataset.height, dataset.width])
    }

    /// Why the training subjects cannot predict `heldOut`'s views by camera index: another
    /// size or view count, or cameras that differ between subjects; nil when they can.
    static func problem(train: ShardedDataset, heldOut: ShardedDataset) -> String? {
        guard train.count > 0 else { return "\(train.folder) has no training subjects" }
        guard train.width == heldOut.width, train.height == heldOut.height, train.views == heldOut.views else {
            return "\(train.folder) holds \(train.views) views of \(train.width)×\(train.height), \(heldOut.folder) \(heldOut.views) of "
                + "\(heldOut.width)×\(heldOut.height)"
        }
        let reference = (train.w2c(0), train.intrinsics(0))
        func same(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Bool { zip(a, b).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($0)) } }
        for (dataset, i) in (0..<train.count).map({ (train, $0) }) + (0..<heldOut.count).map({ (heldOut, $0) })
        where !same(dataset.w2c(i), reference.0) || !same(dataset.intrinsics(i), reference.1) {
            return "subject '\(dataset.subject(i))' of \(dataset.folder) is seen by other cameras than '\(train.subject(0))'"
        }
        return nil
    }
}
