import Reconstruction

extension RecipeSection {
    /// The `perceptual_weight` and `perceptual_weights` keys that every image-loss family shares:
    /// the weight, and the VGG19 loss loaded from the weights file when the weight is positive.
    /// A positive weight without a file, or an unusable file, stops the run naming the key.
    func perceptualLoss() throws -> (weight: Float, loss: PerceptualLoss?) {
        let weight = Float(try double("perceptual_weight", default: 0, min: 0))
        let weightsFile = try optionalString("perceptual_weights")
        guard weight > 0 else { return (0, nil) }
        guard let weightsFile else {
            throw error("perceptual_weight", nil, "is \(weight) but \(fullKey("perceptual_weights")) names no VGG19 weights file "
                        + "(safetensors with torchvision's vgg19().features names); set one, or set perceptual_weight to 0")
        }
        do { return (weight, try PerceptualLoss(weightsFile: weightsFile)) } catch {
            throw self.error("perceptual_weights", nil, "cannot be used: \(error)")
        }
    }
}
