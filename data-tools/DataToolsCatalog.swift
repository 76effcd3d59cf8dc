import ArgumentParser

enum DataToolsCatalog {
    static let all: [ParsableCommand.Type] = [ConvertCommand.self, InspectCommand.self, VerifyCommand.self]
}
