import ArgumentParser

/// Every benchmark, one subcommand each (one file each in this folder).
enum BenchCatalog {
    static let all: [ParsableCommand.Type] = [
        GEMMBench.self,
        TransformerBench.self,
        ResNetBench.self,
        AllreduceBench.self,
        LoaderBench.self,
    ]
}
