import Foundation

/// A diffusers model's `config.json` as a Swift value (the VAE's, the UNet's): one JSON form,
/// written as diffusers writes it and read with errors that name the file and the key.
public protocol DiffusersConfiguration: Codable {
    /// The model class diffusers writes as `_class_name`.
    static var className: String { get }
    /// Throws `DiffusersConfigurationError<Self>`, naming the key, when the configuration
    /// describes no model Relief builds.
    func validate() throws
}

/// A configuration that describes no model: names the model class, the file (when known) and the key.
public struct DiffusersConfigurationError<Configuration: DiffusersConfiguration>: Error, CustomStringConvertible, LocalizedError {
    public let key: String
    public let message: String
    public var source: String?

    public init(key: String, _ message: String, source: String? = nil) {
        self.key = key
        self.message = message
        self.source = source
    }

    public var description: String {
        (source.map { "\($0): " } ?? "") + "\(Configuration.className) configuration " + (key.isEmpty ? message : "\(key) \(message)")
    }
    public var errorDescription: String? { description }
}

extension DiffusersConfiguration {
    /// config.json as diffusers writes it (sorted keys, two-space indentation).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    /// Reads and validates a configuration; errors name `source` (a file) and the key.
    public static func decoded(_ data: Data, source: String) throws -> Self {
        let configuration: Self
        do {
            configuration = try JSONDecoder().decode(Self.self, from: data)
        } catch var error as DiffusersConfigurationError<Self> {
            error.source = source
            throw error
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw DiffusersConfigurationError<Self>(key: key, context.debugDescription, source: source)
        } catch {
            throw DiffusersConfigurationError<Self>(key: "", "is not a JSON object: \(error)", source: source)
        }
        do { try configuration.validate() } catch var error as DiffusersConfigurationError<Self> {
            error.source = source
            throw error
        }
        return configuration
    }
}

/// A diffusers model file or folder that cannot become a model: names the file and why.
public struct DiffusersLoadError: Error, CustomStringConvertible, LocalizedError {
    public let file: String
    public let reason: String
    public init(file: String, _ reason: String) {
        self.file = file
        self.reason = reason
    }
    public var description: String { "\(file): \(reason)" }
    public var errorDescription: String? { description }
}
