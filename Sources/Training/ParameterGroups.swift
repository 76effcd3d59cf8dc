import Checkpoints
import Layers

/// `parameter_groups.<name>`: parameters under `prefix` train at `lr_multiplier` × the
/// scheduled learning rate, or not at all (`frozen`). A parameter belongs to the group with the
/// longest prefix that holds it; parameters in no group train normally.
public struct ParameterGroup {
    public var name: String
    /// Dotted prefix of parameter names (`encoder.down_blocks.0`); empty takes every parameter.
    public var prefix: String
    public var learningRateMultiplier: Double
    public var frozen: Bool
    let origin: RecipeOrigin

    static func read(_ root: RecipeSection) throws -> [ParameterGroup] {
        let groups = try root.section("parameter_groups")
        var out: [ParameterGroup] = []
        for (name, tree) in groups.pairs {
            let g = try groups.section(name)
            let group = ParameterGroup(name: name, prefix: TensorKeyMapping.component(try g.string("prefix")),
                                       learningRateMultiplier: try g.double("lr_multiplier", default: 1, min: 0),
                                       frozen: try g.bool("frozen", default: false), origin: tree.origin)
            try g.finish()
            if let twin = out.first(where: { $0.prefix == group.prefix }) {
                throw g.error("prefix", tree, "is '\(group.prefix)', as in parameter_groups.\(twin.name); give each group its own prefix")
            }
            out.append(group)
        }
        return out
    }

    /// Marks each parameter of `store` with its group's multiplier and frozen state, and rebinds
    /// gradient slots (frozen parameters get none). Call before building the optimizer: it reads
    /// the trainable segments once. Returns one line per group for the run's header.
    @discardableResult
    static func apply(_ groups: [ParameterGroup], to store: ParameterStore) throws -> [String] {
        guard !groups.isEmpty else { return [] }
        var members = [Int](repeating: 0, count: groups.count), sizes = [Int](repeating: 0, count: groups.count)
        for e in store.entries {
            let holding = groups.indices.filter { TensorKeyMapping.name(e.name, isUnder: groups[$0].prefix) }
            guard let i = holding.max(by: { groups[$0].prefix.count < groups[$1].prefix.count }) else { continue }
            e.parameter.requiresGradient = !groups[i].frozen
            e.parameter.learningRateScale = Float(groups[i].learningRateMultiplier)
            members[i] += 1
            sizes[i] += e.count
        }
        for (i, g) in groups.enumerated() where members[i] == 0 {
            let examples = store.entries.prefix(4).map(\.name).joined(separator: ", ")
            throw RecipeError(file: g.origin.file, line: g.origin.line, key: "parameter_groups.\(g.name).prefix",
                              message: "is '\(g.prefix)' and holds no parameter of the model (names look like \(examples), …)")
        }
        store.updateGradientBindings()
        return groups.enumerated().map { i, g in
            "parameter group '\(g.name)' (\(g.prefix.isEmpty ? "every parameter" : "'\(g.prefix)'")): \(members[i]) tensors, "
                + "\(sizes[i]) parameters, " + (g.frozen ? "frozen" : "lr × \(g.learningRateMultiplier)")
        }
    }
}
