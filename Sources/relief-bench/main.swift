import ArgumentParser
import Tensors

BLAS.configureAtLaunch()

struct ReliefBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relief-bench",
        abstract: "Measures Relief's kernels, layers and pipelines against this machine's sgemm ceiling.",
        subcommands: BenchCatalog.all)
}

ReliefBench.main()
