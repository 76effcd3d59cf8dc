import ArgumentParser

enum InferCatalog {
    static let all: [ParsableCommand.Type] = [RenderCommand.self, ReconstructCommand.self, VAECommand.self, GenerateCommand.self, LiftCommand.self, EvaluateCommand.self, EvaluateViewsCommand.self, LowStageOutputsCommand.self, ExportCommand.self, IdentityCommand.self]
}
