import ArgumentParser
import Tensors

BLAS.configureAtLaunch()

struct DataTools: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-tools",
        abstract: "Makes Relief's training data: synthetic heads and objects, HDF5 shards, checks and previews.",
        subcommands: DataToolsCatalog.all)
}

DataTools.main()
