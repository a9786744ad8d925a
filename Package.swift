// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "ProfitPipeline",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "stage-data", targets: ["stage-data"]),
        .executable(name: "stage-prepare", targets: ["stage-prepare"]),
        .executable(name: "stage-eda", targets: ["stage-eda"]),
        .executable(name: "stage-clv", targets: ["stage-clv"]),
        .executable(name: "stage-uplift", targets: ["stage-uplift"]),
        .executable(name: "stage-policy", targets: ["stage-policy"]),
        .executable(name: "stage-parity", targets: ["stage-parity"]),
        .executable(name: "stage-report", targets: ["stage-report"]),
        .executable(name: "score", targets: ["score"]),
        .executable(name: "pipeline-bench", targets: ["pipeline-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        .systemLibrary(
            name: "CGSL",
            path: "Sources/CGSL",
            pkgConfig: "gsl",
            providers: [.apt(["libgsl-dev"])]
        ),
        .systemLibrary(name: "CGLPK", path: "Sources/CGLPK", providers: [.apt(["libglpk-dev"])]),
        // The CSV reader's hot loops mutate column builders through unsafe buffers: runtime exclusivity checks
        // (swift_beginAccess) cost a few percent there and find nothing the static checks miss.
        .target(name: "Tabular", swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        .target(name: "CSHA256"),
        .target(name: "Provenance", dependencies: ["CGSL", "CSHA256", "Tabular", .product(name: "Yams", package: "Yams"), .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .target(name: "Stats", dependencies: ["CGSL"]),
        .target(name: "Reporting", dependencies: ["Tabular"]),
        .target(name: "Workbook", dependencies: ["Tabular", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .target(name: "RawData", dependencies: ["Tabular", "Provenance", "Workbook"]),
        .target(name: "Transactions", dependencies: ["Tabular"]),
        .target(name: "CLV", dependencies: ["CGSL", "Stats", "Tabular"]),
        .target(name: "CLVAnalysis", dependencies: ["CLV", "Transactions", "Tabular", "Stats", "Reporting", "Provenance"]),
        .target(name: "Experiment", dependencies: ["Tabular", "Stats", "Provenance", "Reporting"]),
        .target(name: "CForestKernel"),
        .target(name: "Forest", dependencies: ["Stats", "Provenance", "CForestKernel"]),
        .target(name: "Uplift", dependencies: ["Forest", "Tabular", "Stats", "Provenance"]),
        .target(name: "PolicyAnalysis", dependencies: ["Policy", "Uplift", "Workbook", "Tabular", "Stats", "Provenance", "Reporting"]),
        .target(name: "Scoring", dependencies: ["Uplift", "Forest", "Tabular", "Provenance", "Stats"]),
        .target(name: "UpliftAnalysis", dependencies: ["Uplift", "Forest", "Experiment", "Tabular", "Stats", "Provenance", "Reporting"]),
        .target(name: "Policy", dependencies: ["CGLPK", "Stats"]),

        .executableTarget(name: "stage-data", dependencies: ["Tabular", "Provenance", "RawData", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "stages/data", exclude: ["params.yaml"]),
        .executableTarget(name: "stage-prepare", dependencies: ["Tabular", "Provenance", "Experiment", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "stages/prepare", exclude: ["params.yaml"]),
        .executableTarget(name: "stage-eda", dependencies: ["Tabular", "Provenance", "Experiment", "Stats", "Reporting", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "stages/eda", exclude: ["params.yaml"]),
        .executableTarget(name: "stage-clv", dependencies: ["CLV", "CLVAnalysis", "Transactions", "Tabular", "Provenance", "Reporting", "Stats", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "stages/clv", exclude: ["params.yaml"]),
        .executableTarget(name: "stage-uplift", dependencies: ["Uplift", "UpliftAnalysis", "Forest", "Stats", "Experiment", "Tabular", "Provenance", "Reporting", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "stages/uplift", exclude: ["params.yaml"]),
        .executableTarget(name: "stage-policy", dependencies: ["PolicyAnalysis", "Uplift", "Tabular", "Provenance", "Reporting", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "stages/policy", exclude: ["params.yaml"]),
        .executableTarget(name: "stage-parity", dependencies: ["Scoring", "Uplift", "Stats", "Tabular", "Provenance", "Reporting", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "stages/parity"),
        .executableTarget(name: "score", dependencies: ["Scoring", "Tabular", "Provenance", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "cli/score"),
        .executableTarget(name: "stage-report", dependencies: ["Tabular", "Provenance", "Reporting", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "stages/report"),
        .executableTarget(name: "pipeline-bench", dependencies: ["Tabular", "Provenance", "Reporting", "CLV", "CLVAnalysis", "Stats", "Transactions", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "bench", exclude: ["compare.py"]),

        .target(name: "TestSupport", dependencies: ["Tabular"], path: "Tests/TestSupport"),
        .testTarget(name: "TabularTests", dependencies: ["Tabular"]),
        .testTarget(name: "StatsTests", dependencies: ["Stats"]),
        .testTarget(name: "ProvenanceTests", dependencies: ["Provenance"]),
        .testTarget(name: "WorkbookTests", dependencies: ["Workbook", "Tabular"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ExperimentTests", dependencies: ["TestSupport", "Experiment", "Tabular", "Stats"]),
        .testTarget(name: "RawDataTests", dependencies: ["RawData", "Provenance", "Tabular"]),
        .testTarget(name: "TransactionsTests", dependencies: ["TestSupport", "Transactions", "Tabular"]),
        .testTarget(name: "CLVTests", dependencies: ["TestSupport", "CLV", "Tabular", "Stats"]),
        .testTarget(name: "ForestTests", dependencies: ["Forest", "Stats"]),
        .testTarget(name: "UpliftTests", dependencies: ["TestSupport", "Provenance", "Uplift", "UpliftAnalysis", "Forest", "Experiment", "Tabular", "Stats"]),
        .testTarget(name: "ScoringTests", dependencies: ["Scoring", "Uplift", "Forest", "Provenance", "Stats", "Tabular"]),
        .testTarget(name: "PipelineTests", dependencies: ["Tabular", "Provenance", "Workbook"]),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "Stats"]),
    ]
)
