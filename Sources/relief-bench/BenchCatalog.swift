import ArgumentParser

/// Every benchmark, one subcommand each (one file each in this folder).
enum BenchCatalog {
    static let all: [ParsableCommand.Type] = [
        GEMMBench.self,
        PointwiseBench.self,
        AttentionBench.self,
        TransformerBench.self,
        ResNetBench.self,
        SplatBench.self,
        AllreduceBench.self,
        LoaderBench.self,
        ReconstructorBench.self,
        VAEBench.self,
        UNetBench.self,
        IdentityBench.self,
    ]
}
