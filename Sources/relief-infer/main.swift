import ArgumentParser
import Tensors

BLAS.configureAtLaunch()

struct ReliefInfer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relief-infer",
        abstract: "Runs trained Relief models: renders Gaussian scenes, reconstructs heads from views.",
        subcommands: InferCatalog.all)
}

ReliefInfer.main()
