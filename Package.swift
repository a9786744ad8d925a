// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "ProfitPipeline",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "stage-data", targets: ["stage-data"]),
        .executable(name: "stage-prepare", targets: ["stage-prepare"]),
        .executable(name: "stage-eda", targets: ["stage-eda"]),
        .executable(name: "stage-plan", targets: ["stage-plan"]),
        .executable(name: "stage-clv", targets: ["stage-clv"]),
        .executable(name: "stage-uplift", targets: ["stage-uplift"]),
        .executable(name: "stage-policy", targets: ["stage-policy"]),
        .executable(name: "stage-parity", targets: ["stage-parity"]),
        .executable(name: "stage-report", targets: ["stage-report"]),
        .executable(name: "stage-synth", targets: ["stage-synth"]),
        .executable(name: "stage-project", targets: ["stage-project"]),
        .executable(name: "score", targets: ["score"]),
        .executable(name: "serve", targets: ["serve"]),
        .executable(name: "pipeline-bench", targets: ["pipeline-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
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
        .target(name: "CCSVKernel"),
        .target(name: "Tabular", dependencies: ["CCSVKernel"], swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        .target(name: "CSHA256"),
        // GSL's abort-on-error handler is switched off once, at load time, for whatever links GSL.
        .target(name: "CGSLRuntime", dependencies: ["CGSL"]),
        // The base layer: checksums, JSON and the pipeline's error type. No CLI, no YAML.
        .target(name: "Base", dependencies: ["CSHA256", "Tabular"]),
        .target(name: "Provenance", dependencies: ["Base", "CGSL", "Stats", "Tabular"]),
        // The shells' conventions: pipelineMain and exit codes, params files (YAML).
        .target(
            name: "PipelineCLI",
            dependencies: [
                "Base", "Provenance", "Tabular", .product(name: "Yams", package: "Yams"), .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .target(name: "Stats", dependencies: ["CGSL", "CGSLRuntime"]),
        .target(name: "Reporting", dependencies: ["Tabular"]),
        .target(name: "Workbook", dependencies: ["Tabular", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .target(name: "RawData", dependencies: ["Tabular", "Base", "Provenance", "Workbook"]),
        .target(name: "Transactions", dependencies: ["Tabular"]),
        // The BG/NBD likelihood kernel in C: its exp and log passes run four at a time through glibc's libmvec
        // (AVX2, chosen at run time; libm otherwise).
        .target(name: "CCLVKernel", linkerSettings: [.linkedLibrary("mvec", .when(platforms: [.linux]))]),
        // The likelihood kernels index scratch tables held by their (single-threaded) kernel objects in tight
        // loops: dynamic exclusivity checks there cost ~10% of a fit and guard nothing.
        .target(
            name: "CLV", dependencies: ["CCLVKernel", "CGSL", "CGSLRuntime", "Stats", "Tabular"],
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        .target(name: "CLVAnalysis", dependencies: ["CLV", "Transactions", "Tabular", "Stats", "Reporting", "Base", "Provenance"]),
        .target(name: "Experiment", dependencies: ["Tabular", "Stats", "Base", "Provenance", "Reporting"]),
        .target(name: "CForestKernel"),
        .target(name: "Forest", dependencies: ["Stats", "Base", "Tabular", "CForestKernel"]),
        .target(name: "Uplift", dependencies: ["Forest", "Tabular", "Stats", "Base"]),
        .target(name: "PolicyAnalysis", dependencies: ["Economics", "Policy", "Uplift", "Workbook", "Tabular", "Stats", "Base", "Provenance", "Reporting"]),
        .target(name: "Scoring", dependencies: ["Economics", "Uplift", "Forest", "Tabular", "Base", "Stats"]),
        .target(name: "UpliftAnalysis", dependencies: ["Uplift", "Forest", "Experiment", "Tabular", "Stats", "Base", "Provenance", "Reporting"]),
        // The profit rule, the best arm and the best-N argmax: one place for the policy stage, the scorer and the service.
        .target(name: "Economics", dependencies: ["Base", "Tabular"]),
        .target(name: "Parity", dependencies: ["Base", "Reporting", "Stats", "Tabular"]),
        .target(name: "Policy", dependencies: ["CGLPK", "Economics", "Stats", "Tabular", "Base"]),
        // The example project's data: a campaign and an order log with known true effects and parameters.
        .target(name: "Synthetic", dependencies: ["Stats", "Tabular"]),
        // The project file: campaign, order log, replication, stage parameters and output folder of one analysis.
        .target(name: "ProjectSpec", dependencies: ["Base", "CLVAnalysis", "Experiment", "Tabular", "Transactions"]),

        .executableTarget(
            name: "stage-data",
            dependencies: ["Tabular", "Base", "Provenance", "PipelineCLI", "RawData", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "stages/data", exclude: ["params.yaml"]),
        .executableTarget(
            name: "stage-prepare",
            dependencies: [
                "Tabular", "Base", "Provenance", "PipelineCLI", "Experiment", "ProjectSpec", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "stages/prepare", exclude: ["params.yaml"]),
        .executableTarget(
            name: "stage-plan",
            dependencies: [
                "Tabular", "Base", "Provenance", "PipelineCLI", "PolicyAnalysis", "Reporting", "Uplift",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ], path: "stages/plan", exclude: ["params.yaml"]),
        .executableTarget(
            name: "stage-eda",
            dependencies: [
                "Tabular", "Base", "Provenance", "PipelineCLI", "Experiment", "Stats", "Reporting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ], path: "stages/eda", exclude: ["params.yaml"]),
        .executableTarget(
            name: "stage-clv",
            dependencies: [
                "CLV", "CLVAnalysis", "Transactions", "Tabular", "Base", "Provenance", "PipelineCLI", "Reporting", "Stats", "ProjectSpec",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ], path: "stages/clv", exclude: ["params.yaml"]),
        .executableTarget(
            name: "stage-uplift",
            dependencies: [
                "Uplift", "UpliftAnalysis", "Forest", "Stats", "Experiment", "Tabular", "Base", "Provenance", "PipelineCLI", "Reporting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ], path: "stages/uplift", exclude: ["params.yaml"]),
        .executableTarget(
            name: "stage-policy",
            dependencies: [
                "PolicyAnalysis", "Economics", "Uplift", "Tabular", "Base", "Provenance", "PipelineCLI", "Reporting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ], path: "stages/policy", exclude: ["params.yaml"]),
        .executableTarget(
            name: "stage-parity",
            dependencies: [
                "Economics", "Parity", "Scoring", "Uplift", "Stats", "Tabular", "Base", "Provenance", "PipelineCLI", "Reporting",
                "LoopbackHTTP", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ], path: "stages/parity"),
        .executableTarget(name: "score", dependencies: ["ScoreCLI"], path: "cli/score"),
        // The scoring service: routes, request parsing and JSON bodies over the scoring core; `serve` is its thin main.
        .target(
            name: "Service",
            dependencies: [
                "Scoring", "Economics", "Uplift", "Tabular", "Base", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // A minimal HTTP/1.1 client over loopback sockets (tests, the parity stage's service check, WebDriver).
        .target(name: "LoopbackHTTP"),
        .executableTarget(
            name: "serve",
            dependencies: ["Service", "PipelineCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "cli/serve"),
        .executableTarget(
            name: "stage-synth",
            dependencies: ["Synthetic", "Tabular", "Base", "Provenance", "PipelineCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "stages/synth"),
        .executableTarget(
            name: "stage-project",
            dependencies: ["ProjectSpec", "Tabular", "Base", "Provenance", "PipelineCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "stages/project"),
        .target(
            name: "ScoreCLI",
            dependencies: ["Economics", "Scoring", "Tabular", "PipelineCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "stage-report",
            dependencies: ["Tabular", "Base", "Provenance", "PipelineCLI", "Reporting", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "stages/report"),
        .executableTarget(
            name: "pipeline-bench",
            dependencies: [
                "Tabular", "Base", "Provenance", "PipelineCLI", "Reporting", "CLV", "CLVAnalysis", "Stats", "Transactions", "ProjectSpec",
                "Forest", "Uplift", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ], path: "bench", exclude: ["compare.py", "requirements.txt"]),

        .target(name: "TestSupport", dependencies: ["Tabular"], path: "Tests/TestSupport"),
        .testTarget(name: "TabularTests", dependencies: ["Tabular", "CCSVKernel"]),
        .testTarget(name: "StatsTests", dependencies: ["Stats"]),
        .testTarget(name: "ProvenanceTests", dependencies: ["Base", "Provenance", "PipelineCLI", "Stats"]),
        .testTarget(name: "WorkbookTests", dependencies: ["Workbook", "Tabular"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ExperimentTests", dependencies: ["TestSupport", "Experiment", "Reporting", "Tabular", "Stats", "Base"]),
        .testTarget(name: "RawDataTests", dependencies: ["RawData", "Base", "Provenance", "Tabular"]),
        .testTarget(name: "TransactionsTests", dependencies: ["TestSupport", "Transactions", "Tabular"]),
        .testTarget(name: "CLVTests", dependencies: ["TestSupport", "CLV", "CLVAnalysis", "Transactions", "Tabular", "Stats"]),
        .testTarget(name: "ForestTests", dependencies: ["Forest", "Stats"]),
        .testTarget(
            name: "UpliftTests",
            dependencies: ["TestSupport", "Base", "Provenance", "PipelineCLI", "Uplift", "UpliftAnalysis", "Forest", "Experiment", "Tabular", "Stats"]),
        .testTarget(
            name: "ScoringTests",
            dependencies: ["TestSupport", "ScoreCLI", "PipelineCLI", "Economics", "Scoring", "Uplift", "Forest", "Base", "Provenance", "Stats", "Tabular"]),
        .testTarget(name: "PipelineTests", dependencies: ["Tabular", "Base", "Provenance", "Stats", "Workbook"]),
        .testTarget(name: "ParityTests", dependencies: ["Parity", "Tabular"]),
        .testTarget(
            name: "ServiceTests",
            dependencies: ["TestSupport", "Service", "LoopbackHTTP", "ScoreCLI", "Scoring", "Economics", "Base", "Tabular", "PipelineCLI"]),
        .testTarget(name: "SyntheticTests", dependencies: ["Synthetic", "Transactions", "Tabular"]),
        .testTarget(name: "PolicyTests", dependencies: ["Economics", "Policy", "Stats"]),
        // The campaign's ids from prepare through the uplift test scores to the policy stage's lists.
        .testTarget(
            name: "PolicyAnalysisTests", dependencies: ["Experiment", "UpliftAnalysis", "PolicyAnalysis", "Policy", "Uplift", "Tabular", "Stats", "Base"]),
        // Hostile params files and failed stages: every stage's params type, the stage binaries of the same build.
        .testTarget(
            name: "HostileInputTests",
            dependencies: [
                "TestSupport", "PipelineCLI", "Provenance", "Base", "Tabular", "RawData", "Experiment",
                "CLVAnalysis", "UpliftAnalysis", "PolicyAnalysis", "ProjectSpec", .product(name: "Yams", package: "Yams"),
            ]),
    ]
)
