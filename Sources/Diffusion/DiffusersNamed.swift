/// A choice spelled as diffusers spells it in a configuration (`prediction_type`,
/// `beta_schedule`, …): parsing names the key and the accepted values when a value is not one.
public protocol DiffusersNamed: RawRepresentable, CaseIterable where RawValue == String {
    /// The configuration key the value is read from, for error messages.
    static var configurationKey: String { get }
}

extension DiffusersNamed {
    public init(diffusersName name: String) throws {
        guard let value = Self(rawValue: name) else {
            throw DiffusionConfigurationError(key: Self.configurationKey,
                message: "is '\(name)'; expected one of \(Self.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = value
    }
}
