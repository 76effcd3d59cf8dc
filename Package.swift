// swift-tools-version:6.0
import PackageDescription

// Release builds target AVX2+FMA (any x86-64 server of the last decade; without it SIMD types
// compile to SSE2 and lane-wise loops). They are checked builds (`-O`, not `-Ounchecked`): bounds,
// overflow and argument checks stay on; the kernels run on unsafe pointers, so the checks cost
// under the noise of BENCHMARKS.md ("Checked builds").
let fastMath: [SwiftSetting] = [.unsafeFlags(["-wmo", "-target-cpu", "haswell"], .when(configuration: .release))]

let package = Package(
    name: "Relief",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "relief-bench", targets: ["relief-bench"]),
        .executable(name: "relief-infer", targets: ["relief-infer"]),
        .executable(name: "data-tools", targets: ["data-tools"]),
        .executable(name: "relief-train", targets: ["relief-train"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // C layer: system libraries through pkg-config, each with a shim for macros Swift cannot import.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        // libpng reports errors with longjmp, which Swift cannot catch: a small C codec does.
        .target(name: "CPNGCodec", dependencies: ["CPNG"]),
        // AVX-512 micro-kernels for attention's narrow products (Swift cannot target AVX-512 per function).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2"])]),

        // core
        .target(name: "Tensors", dependencies: ["CBLAS", "CKernels"], swiftSettings: fastMath),
        .target(name: "Layers", dependencies: ["Tensors"], swiftSettings: fastMath),
        .target(name: "Optimizers", dependencies: ["Tensors", "Layers"], swiftSettings: fastMath),
        // formats
        .target(name: "Checkpoints", dependencies: ["Tensors"], swiftSettings: fastMath),
        .target(name: "Datasets", dependencies: ["Tensors", "Splatting", "CHDF5", "CPNGCodec"], swiftSettings: fastMath),
        // geometry
        .target(name: "Splatting", dependencies: ["Tensors"], swiftSettings: fastMath),
        // runtime
        .target(name: "Distributed", dependencies: ["CMPI"], swiftSettings: fastMath),
        // models
        .target(name: "Reconstruction", dependencies: ["Tensors", "Layers", "Splatting", "Checkpoints"], swiftSettings: fastMath),
        .target(name: "Diffusion", dependencies: ["Tensors", "Layers", "Checkpoints"], swiftSettings: fastMath),
        .target(name: "Identity", dependencies: ["Tensors", "Layers", "Checkpoints"], swiftSettings: fastMath),
        // the two models joined: one portrait → a 3D head
        .target(name: "Lifting", dependencies: ["Tensors", "Splatting", "Datasets", "Reconstruction", "Diffusion", "Identity"], swiftSettings: fastMath),
        // data
        .target(name: "Synthesis", dependencies: ["Tensors", "Splatting", "Datasets"], swiftSettings: fastMath),
        // training
        .target(name: "Training", dependencies: ["Tensors", "Layers", "Optimizers", "Checkpoints", "Datasets", "Distributed",
                                                 "Splatting", "Reconstruction", "Diffusion", "Identity",
                                                 .product(name: "Yams", package: "Yams")], swiftSettings: fastMath),

        // programs
        .executableTarget(name: "relief-bench", dependencies: [
            "Tensors", "Layers", "Optimizers", "Checkpoints", "Splatting", "Datasets", "Distributed", "Reconstruction", "Diffusion",
            "Identity", "Training", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: fastMath),
        .executableTarget(name: "relief-train", dependencies: [
            "Training", "Distributed", "Tensors", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: fastMath),
        .executableTarget(name: "relief-infer", dependencies: [
            "Tensors", "Layers", "Checkpoints", "Splatting", "Datasets", "Reconstruction", "Diffusion", "Identity", "Lifting",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: fastMath),
        .executableTarget(name: "data-tools", dependencies: [
            "Tensors", "Datasets", "Splatting", "Synthesis",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "data-tools", exclude: ["README.md"], swiftSettings: fastMath),

        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "LayersTests", dependencies: ["Layers", "Tensors", "Checkpoints", "Optimizers", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "OptimizersTests", dependencies: ["Optimizers", "Layers", "Tensors"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "Tensors"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Splatting", "Tensors"]),
        .testTarget(name: "SplattingTests", dependencies: ["Splatting", "Datasets", "Tensors", "TestSupport"]),
        .testTarget(name: "SynthesisTests", dependencies: ["Synthesis", "Datasets", "Splatting"]),
        .testTarget(name: "ReconstructionTests", dependencies: ["Reconstruction", "Splatting", "Layers", "Optimizers", "Tensors", "Checkpoints", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "IdentityTests", dependencies: ["Identity", "Layers", "Tensors", "Checkpoints"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion", "Layers", "Tensors", "Checkpoints", "TestSupport"], resources: [.copy("Fixtures")]),
        .target(name: "TestSupport", dependencies: ["Tensors"], path: "Tests/TestSupport"),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Datasets", "Checkpoints", "Distributed", "Synthesis", "Splatting", "Tensors", "TestSupport", "Diffusion", "Identity"]),
    ],
    swiftLanguageModes: [.v5]
)
