import ArgumentParser

enum DataToolsCatalog {
    static let all: [ParsableCommand.Type] = [
        SynthCommand.self,
        PreviewCommand.self,
    ]
}
