/// Metadata keys of a checkpoint's `ema.safetensors` that say how far its moving average has
/// come, so inference can choose between it and the raw weights (`relief-infer --weights auto`).
public enum EMAMetadata {
    /// Updates the average has taken.
    public static let updates = "ema_updates"
    /// The configured decay (the cap, when a warm-up lowers it early on).
    public static let decay = "ema_decay"
    /// The weight the average still gives the weights it started from, ∏ dₖ over its updates
    /// (0 = none of the initial weights left, 1 = still the initial weights).
    public static let initialShare = "ema_initial_share"
}

extension EMAMetadata {
    public static func values(updates: Int, decay: Double, initialShare: Double) -> [String: String] {
        [Self.updates: String(updates), Self.decay: String(decay), Self.initialShare: String(initialShare)]
    }
}
