import Tensors

/// Train / validation split by identity: all subjects of one identity land on the same side,
/// so no person is seen in training and validated on. Deterministic in (identities, fraction, seed).
public enum IdentitySplit {
    public static let train = "train", validation = "val"

    /// The validation identities: round(fraction · count) of the sorted distinct identities, drawn
    /// by a seeded shuffle; at least one when fraction > 0 and at least one left for training when
    /// fraction < 1 (given two or more identities).
    public static func validationIdentities(_ identities: [String], fraction: Double, seed: UInt64) -> Set<String> {
        var distinct = Array(Set(identities)).sorted()
        guard fraction > 0, !distinct.isEmpty else { return [] }
        var count = Int((fraction * Double(distinct.count)).rounded())
        if distinct.count >= 2 { count = min(max(count, 1), fraction < 1 ? distinct.count - 1 : distinct.count) }
        count = min(count, distinct.count)
        var rng = Philox(seed: seed, stream: 0x5EED_5917)
        for i in stride(from: distinct.count - 1, to: 0, by: -1) { distinct.swapAt(i, rng.int(below: i + 1)) }
        return Set(distinct.prefix(count))
    }
}
