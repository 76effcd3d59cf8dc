import Foundation
import Splatting
import Tensors

/// Which views of a subject go into a batch.
public enum ViewSelection: Sendable, Equatable {
    /// Always these views, in this order (the diffusion model's six).
    case fixed([Int])
    /// `inputs` distinct views at random, then `supervision` further distinct views (a model that
    /// also supervises on its inputs uses all k + m). With `nearInputs`, supervision views are drawn
    /// from those whose camera centre lies within `nearAngle` of an input's, seen from the world
    /// origin (the head's centre), as FaceLift's `maximize_view_overlap`; when too few qualify,
    /// from the `supervision` closest.
    case random(inputs: Int, supervision: Int, nearInputs: Bool)
    /// The multi-view diffusion model's views, from the subject's 0°-elevation ring of eight
    /// (`DiffusionRing`, found from its cameras): the condition view at azimuth α, then six
    /// targets. With `reconstructInput` they are α + {0, 45, 90, 180, 270, 315}° (target 0 is the
    /// condition view itself, as FaceLift trains); without, the ablation's six novel views
    /// α + {45, 90, 135, 180, 270, 315}°. α is drawn by `condition`.
    case ring(condition: RingCondition, reconstructInput: Bool)
    /// The reconstructor of the whole pipeline (FaceLift's GS-LRM): the six views the diffusion
    /// model generates, α + {0, 45, 90, 180, 270, 315}° on the subject's ring
    /// (`DiffusionRing.targetSteps`, α drawn by `condition`), as inputs in that order, then
    /// `supervision` further distinct views drawn from all the others (the two remaining ring
    /// views and the rest of the rig), with `nearInputs` as for `.random`.
    case diffusionInputs(condition: RingCondition, supervision: Int, nearInputs: Bool)

    /// How the diffusion model's condition azimuth α is chosen.
    public enum RingCondition: String, Sendable, CaseIterable {
        /// Uniformly one of the eight ring azimuths, per sample.
        case any
        /// Always azimuth 0, the face's front (FaceLift's training).
        case front
    }

    /// The overlap threshold for `nearInputs` (FaceLift uses 60°).
    public static let nearAngle: Float = 60

    /// Views per sample this selection yields.
    public var count: Int {
        switch self {
        case .fixed(let v): return v.count
        case .random(let k, let m, _): return k + m
        case .ring: return 1 + DiffusionRing.targetSteps.count
        case .diffusionInputs(_, let m, _): return DiffusionRing.targetSteps.count + m
        }
    }

    /// Whether the selection needs each subject's 0°-elevation ring of eight (`DiffusionRing`).
    var needsRing: Bool {
        switch self {
        case .ring, .diffusionInputs: return true
        case .fixed, .random: return false
        }
    }

    /// Checks the selection fits every sample of `dataset` (for the ring selections: that each
    /// has the ring, found from its cameras), naming the dataset and the first subject that does not.
    public func validate(_ dataset: ShardedDataset) throws {
        do { try validate(views: dataset.views) } catch let e as DataError {
            throw DataError(dataset.folder, "split '\(dataset.split)': \(e.message)")
        }
        guard needsRing else { return }
        for i in 0..<dataset.count where DiffusionRing.find(w2c: dataset.w2c(i), views: dataset.views) == nil {
            throw DataError(dataset.folder, "split '\(dataset.split)', sample \(i) (subject '\(dataset.subject(i))') "
                            + DiffusionRing.describeMissing(w2c: dataset.w2c(i), views: dataset.views))
        }
    }

    /// Checks the selection fits subjects with `views` views.
    public func validate(views: Int) throws {
        switch self {
        case .fixed(let v):
            guard !v.isEmpty, v.allSatisfy({ $0 >= 0 && $0 < views }) else {
                throw DataError("view selection", "fixed views \(v) must lie in 0..<\(views)")
            }
        case .random(let k, let m, _):
            guard k >= 1, m >= 0, k + m <= views else {
                throw DataError("view selection", "\(k) input + \(m) supervision views need at most \(views)")
            }
        case .ring:
            try Self.validateRing(views: views)
        case .diffusionInputs(_, let m, _):
            try Self.validateRing(views: views)
            let k = DiffusionRing.targetSteps.count
            guard m >= 0, k + m <= views else {
                throw DataError("view selection", "the \(k) diffusion views as inputs + \(m) supervision views need at most \(views)")
            }
        }
    }

    static func validateRing(views: Int) throws {
        guard views >= OrbitRig.ringViewCount else {
            throw DataError("view selection", "the diffusion ring needs \(OrbitRig.ringViewCount) views at 0° elevation; subjects have \(views) views")
        }
    }

    /// The chosen view indices, inputs first. `w2c` holds the subject's row-major matrices.
    /// Throws only for the ring selections on a subject without the ring (`validate(_:)` checks that first).
    public func choose(views: Int, w2c: ArraySlice<Float>, rng: inout Philox) throws -> [Int] {
        switch self {
        case .fixed(let v):
            return v
        case .ring(let condition, let reconstructInput):
            let (ring, alpha) = try Self.ring(condition, views: views, w2c: w2c, rng: &rng)
            let steps = reconstructInput ? DiffusionRing.targetSteps : DiffusionRing.novelTargetSteps
            return [ring[alpha]] + steps.map { ring[(alpha + $0) % ring.count] }
        case .diffusionInputs(let condition, let m, let near):
            let (ring, alpha) = try Self.ring(condition, views: views, w2c: w2c, rng: &rng)
            let inputs = DiffusionRing.targetSteps.map { ring[(alpha + $0) % ring.count] }
            return inputs + Self.supervision(m, besides: inputs, views: views, w2c: w2c, nearInputs: near, rng: &rng)
        case .random(let k, let m, let near):
            var pool = Array(0..<views)
            for i in 0..<k { pool.swapAt(i, i + rng.int(below: views - i)) }
            let inputs = Array(pool[0..<k])
            return inputs + Self.supervision(m, besides: inputs, views: views, w2c: w2c, nearInputs: near, rng: &rng)
        }
    }

    /// The subject's ring (file indices, element k at k·45°) and the condition position α.
    static func ring(_ condition: RingCondition, views: Int, w2c: ArraySlice<Float>, rng: inout Philox) throws -> (ring: [Int], alpha: Int) {
        guard let ring = DiffusionRing.find(w2c: w2c, views: views) else {
            throw DataError("view selection", "subject " + DiffusionRing.describeMissing(w2c: w2c, views: views))
        }
        return (ring, condition == .front ? 0 : rng.int(below: ring.count))
    }

    /// `m` distinct views at random among those not in `inputs`; with `nearInputs`, from the views
    /// near an input (see `.random`).
    static func supervision(_ m: Int, besides inputs: [Int], views: Int, w2c: ArraySlice<Float>, nearInputs near: Bool,
                            rng: inout Philox) -> [Int] {
        let taken = Set(inputs)
        var rest = (0..<views).filter { !taken.contains($0) }
        if near && m > 0 {
            let b = w2c.startIndex
            func direction(_ v: Int) -> SIMD3<Float> {
                let c = CameraFrame.centre(w2c: w2c[b + v * 16 ..< b + v * 16 + 16])
                let n = (c * c).sum().squareRoot()
                return n > 0 ? c / n : c
            }
            let inputDirections = inputs.map(direction)
            let closeness = Dictionary(uniqueKeysWithValues: rest.map { v -> (Int, Float) in
                let d = direction(v)
                return (v, inputDirections.map { ($0 * d).sum() }.max() ?? -1)
            })
            let threshold = cos(ViewSelection.nearAngle * .pi / 180) - 1e-5
            let near = rest.filter { closeness[$0]! >= threshold }
            if near.count >= m {
                rest = near
            } else {
                rest.sort { (closeness[$0]!, -$0) > (closeness[$1]!, -$1) }
                rest = Array(rest.prefix(m))
            }
        }
        for i in 0..<m { rest.swapAt(i, i + rng.int(below: rest.count - i)) }
        return Array(rest.prefix(m))
    }
}

/// The colour transparent pixels are composited onto.
public enum Background: String, Sendable, CaseIterable {
    case white, black, gray
    /// A uniform random colour per sample (the same for all its views).
    case random

    public func colour(rng: inout Philox) -> SIMD3<Float> {
        switch self {
        case .white: return SIMD3(repeating: 1)
        case .black: return SIMD3(repeating: 0)
        case .gray: return SIMD3(repeating: 0.5)
        case .random: return SIMD3(rng.uniform(), rng.uniform(), rng.uniform())
        }
    }
}
