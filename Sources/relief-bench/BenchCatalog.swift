import ArgumentParser

/// Every benchmark, one subcommand each (one file each in this folder).
enum BenchCatalog {
    static let all: [ParsableCommand.Type] = [GEMMBench.self, LoaderBench.self, SplatBench.self]
}
