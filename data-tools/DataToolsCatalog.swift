import ArgumentParser

enum DataToolsCatalog {
    static let all: [ParsableCommand.Type] = [
        SynthCommand.self,
        PreviewCommand.self,
        ConvertCommand.self,
        InspectCommand.self,
        VerifyCommand.self,
        BaselinesCommand.self,
    ]
}
