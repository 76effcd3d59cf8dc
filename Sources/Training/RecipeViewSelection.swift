import Datasets

extension Recipe.Views {
    /// The diffusion model's selection when `views.ring` is set (`any` or `front`): the condition
    /// view, then six targets (`ViewSelection.ring`); nil for the k-input recipes.
    public var ringSelection: ViewSelection? {
        guard !diffusionInputs, let ring, let condition = ViewSelection.RingCondition(rawValue: ring) else { return nil }
        return .ring(condition: condition, reconstructInput: reconstructInput)
    }

    /// The reconstructor's selection when `views.inputs` is `diffusion`: the six diffusion views
    /// of α (`views.ring`) as inputs, then `views.supervision` − 6 other views
    /// (`ViewSelection.diffusionInputs`); nil otherwise.
    public var diffusionInputSelection: ViewSelection? {
        guard diffusionInputs, let ring, let condition = ViewSelection.RingCondition(rawValue: ring) else { return nil }
        return .diffusionInputs(condition: condition, supervision: supervision - inputs, nearInputs: nearInputs)
    }
}
