import ArgumentParser
import Datasets
import Foundation
import Identity

/// The cosine similarity of two face images' identity embeddings.
struct IdentityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "Cosine similarity of two images under a trained identity encoder (model.kind: identity).",
        discussion: """
            Each PNG is read as `generate` reads a portrait (RGBA brought to the training framing, RGB only \
            square on white) at the encoder's resolution. Prints the cosine similarity of the two L2-normalised embeddings: 1 for the same \
            image, near 0 for unrelated identities.
            """)

    @Option(help: "A Relief identity-encoder run or step folder.") var checkpoint: String
    @Option(name: .customLong("image"), help: "An image; give exactly two.") var images: [String]
    @Flag(help: "Use model.safetensors even when the checkpoint has EMA weights.") var noEMA = false

    func run() throws {
        guard images.count == 2 else { throw ValidationError("give exactly two --image options, got \(images.count)") }
        let (encoder, source) = try IdentityEncoder.load(path: checkpoint, preferEMA: !noEMA)
        let tensors = try images.map { try PortraitFraming.prepare(try Image.readPNG($0), size: encoder.configuration.resolution, source: $0).0 }
        let similarity = encoder.csim(tensors[0], tensors[1])[0]
        print("\(source): \(encoder.configuration.embeddingDimension)-d embeddings at \(encoder.configuration.resolution)²")
        print(String(format: "cosine similarity %.4f", similarity))
    }
}
