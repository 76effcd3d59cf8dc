import Datasets

extension Recipe.Views {
    /// The diffusion model's selection when `views.ring` is set (`any` or `front`): the condition
    /// view, then six targets (`ViewSelection.ring`); nil for the k-input recipes.
    public var ringSelection: ViewSelection? {
        guard let ring, let condition = ViewSelection.RingCondition(rawValue: ring) else { return nil }
        return .ring(condition: condition, reconstructInput: reconstructInput)
    }
}
