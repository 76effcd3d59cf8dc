import Tensors

/// A layer or a model: a class with named parameters and named child modules. Names compose
/// with dots into checkpoint keys exactly like PyTorch's `state_dict` (`blocks.3.attn1.to_q.weight`),
/// so weights move between Relief and diffusers/PyTorch without a mapping table.
///
/// Each module also provides `callAsFunction` with whatever inputs it needs.
public protocol Module: AnyObject {
    /// Parameters owned directly by this module, under local names ("weight", "bias").
    var namedParameters: [(String, Parameter)] { get }
    /// Direct sub-modules, under local names that may themselves contain dots ("to_out.0", "blocks.3").
    var namedChildren: [(String, any Module)] { get }
}

extension Module {
    public var namedParameters: [(String, Parameter)] { [] }
    public var namedChildren: [(String, any Module)] { [] }

    /// Every parameter of the subtree with its full dotted name, in a deterministic order:
    /// own parameters first, then each child in declaration order (PyTorch's order).
    public func allParameters(prefix: String = "") -> [(name: String, parameter: Parameter)] {
        var out: [(name: String, parameter: Parameter)] = []
        collect(prefix: prefix, into: &out)
        return out
    }

    private func collect(prefix: String, into out: inout [(name: String, parameter: Parameter)]) {
        for (name, p) in namedParameters { out.append((prefix + name, p)) }
        for (name, child) in namedChildren { child.collectAny(prefix: prefix + name + ".", into: &out) }
    }

    fileprivate func collectAny(prefix: String, into out: inout [(name: String, parameter: Parameter)]) {
        collect(prefix: prefix, into: &out)
    }

    /// Number of scalars in the subtree.
    public var parameterCount: Int { allParameters().reduce(0) { $0 + $1.parameter.count } }

    /// Stops (or restarts) gradients for every parameter of the subtree. Call
    /// `ParameterStore.updateGradientBindings()` afterwards if a store already owns them.
    public func setFrozen(_ frozen: Bool) {
        for (_, p) in allParameters() { p.requiresGradient = !frozen }
    }
}

/// Children stored in an array, named "<name>.<index>" like `nn.ModuleList`.
public func indexed(_ name: String, _ modules: [any Module]) -> [(String, any Module)] {
    modules.enumerated().map { ("\(name).\($0.offset)", $0.element) }
}
