import Foundation

extension ExponentialMovingAverage {
    /// The weight the average still gives the weights it started from: after updates with
    /// decays d₁…dₙ it is ∏ dₖ (a fixed 0.999 over 300 updates leaves 74 % untrained weights).
    public var initialShare: Double {
        var share = 1.0
        for n in stride(from: 1, through: updates, by: 1) {
            share *= Double(currentDecay(forUpdate: n))
            if share < 1e-12 { return 0 }
        }
        return share
    }
}
