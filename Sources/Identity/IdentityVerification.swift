import Foundation
import Tensors

/// Face-verification statistics of embedded subjects. Subjects are embedded with the same views
/// in the same order (`viewsPerSubject` rows each, subject after subject); `front`, `sides` and
/// `back` are positions in that order. A pair is genuine when its two subjects share an
/// identity (the same subject seen from two views counts), an impostor pair otherwise.
public struct IdentityVerification {
    /// Genuine and impostor cosines of front-to-side pairs (each subject's front view against
    /// every subject's side views), front-to-back pairs, and all pairs of distinct images.
    public let frontSide, frontBack, all: (genuine: [Double], impostor: [Double])
    /// The front-to-side genuine pairs between two different subjects of one identity (another
    /// appearance variant: other hair, clothes, expression), the hard half of `frontSide.genuine`;
    /// the impostors are `frontSide`'s.
    public let frontSideOtherSubject: (genuine: [Double], impostor: [Double])

    public init(embeddings: [[Float]], identities: [String], viewsPerSubject views: Int, front: Int, sides: [Int], back: Int) {
        check(embeddings.count == identities.count * views, "IdentityVerification: \(embeddings.count) embeddings for \(identities.count) subjects × \(views) views")
        func cosine(_ a: Int, _ b: Int) -> Double { zip(embeddings[a], embeddings[b]).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
        func pairs(_ first: Int, _ second: [Int]) -> (genuine: [Double], impostor: [Double]) {
            var genuine: [Double] = [], impostor: [Double] = []
            for i in identities.indices {
                for j in identities.indices {
                    for view in second {
                        let c = cosine(i * views + first, j * views + view)
                        if identities[i] == identities[j] { genuine.append(c) } else { impostor.append(c) }
                    }
                }
            }
            return (genuine, impostor)
        }
        frontSide = pairs(front, sides)
        // Genuine pairs alone: leaving out i = j changes none of the impostors.
        let otherSubject = identities.indices.flatMap { i in
            identities.indices.filter { $0 != i && identities[$0] == identities[i] }.flatMap { j in sides.map { cosine(i * views + front, j * views + $0) } }
        }
        frontSideOtherSubject = (otherSubject, frontSide.impostor)
        frontBack = pairs(front, [back])
        var genuine: [Double] = [], impostor: [Double] = []
        for a in embeddings.indices {
            for b in (a + 1)..<embeddings.count {
                let c = cosine(a, b)
                if identities[a / views] == identities[b / views] { genuine.append(c) } else { impostor.append(c) }
            }
        }
        all = (genuine, impostor)
    }

    /// The true accept rate at a false accept rate: the share of genuine scores above the
    /// threshold that at most ⌊far · impostors⌋ impostor scores exceed. nil without both kinds.
    public static func trueAcceptRate(genuine: [Double], impostor: [Double], falseAcceptRate far: Double) -> Double? {
        guard !genuine.isEmpty, !impostor.isEmpty else { return nil }
        let sorted = impostor.sorted(by: >)
        let allowed = min(Int((far * Double(sorted.count)).rounded(.down)), sorted.count - 1)
        let threshold = sorted[allowed]
        return Double(genuine.filter { $0 > threshold }.count) / Double(genuine.count)
    }

    static func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }

    /// The evaluation's scalars, under the names metrics.jsonl and BENCHMARKS.md use.
    public var metrics: [String: Double] {
        var out: [String: Double] = [:]
        for (name, set) in [("front_side", frontSide), ("front_side_other_subject", frontSideOtherSubject), ("all", all)] {
            for (far, label) in [(1e-3, "1e-3"), (1e-2, "1e-2")] {
                out["tar_at_far_\(label)_\(name)"] = Self.trueAcceptRate(genuine: set.genuine, impostor: set.impostor, falseAcceptRate: far)
            }
        }
        out["cosine_same_front_side"] = Self.mean(frontSide.genuine)
        out["cosine_same_front_side_other_subject"] = Self.mean(frontSideOtherSubject.genuine)
        out["cosine_same_front_back"] = Self.mean(frontBack.genuine)
        out["cosine_different_front_side"] = Self.mean(frontSide.impostor)
        out["cosine_different"] = Self.mean(all.impostor)
        out["impostor_pairs_front_side"] = Double(frontSide.impostor.count)
        return out
    }
}
