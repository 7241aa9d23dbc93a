// swift-tools-version: 6.0
import PackageDescription

/// isorun: one OCI bundle, three ways to run it (bare host process, namespace +
/// cgroup sandbox, micro-VM). See README.md for the layout of the targets.
let package = Package(
    name: "isorun",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "isorun", targets: ["isorun"]),
        .executable(name: "isorun-init", targets: ["isorun-init"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // C: the pre-exec path between clone() and execve(). Carries out a plan; decides nothing.
        .target(
            name: "CIsorunShim",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("seccomp"), .linkedLibrary("cap")]
        ),
        // Typed Swift over the few system calls isorun makes itself.
        .target(name: "IsorunSys", dependencies: ["CIsorunShim"]),
        // OCI runtime-spec config.json: Codable types and validation.
        .target(name: "IsorunSpec", dependencies: ["IsorunSys"]),
        // cgroup v1, hybrid and v2 behind one protocol.
        .target(name: "IsorunCgroups", dependencies: ["IsorunSys", "IsorunSpec"]),
        // Launcher seam, lifecycle, exit status, runtime root, bare mode.
        .target(
            name: "IsorunCore",
            dependencies: [
                "IsorunSys", "IsorunSpec", "IsorunCgroups", "CIsorunShim",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Namespaces, rootfs, seccomp, capabilities: the sandbox mode.
        .target(
            name: "IsorunSandbox",
            dependencies: [
                "IsorunCore", "IsorunSys", "IsorunSpec", "IsorunCgroups", "CIsorunShim",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // VM mode: QEMU driver, guest images, the host end of the guest protocol.
        .target(
            name: "IsorunVM",
            dependencies: [
                "IsorunCore", "IsorunSys", "IsorunSpec", "IsorunCgroups", "IsorunGuestProtocol", "IsorunSandbox",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `isorun bench`: scenarios, statistics, reports (Markdown, JSON, SVG).
        .target(
            name: "IsorunBench",
            dependencies: [
                "IsorunSys", "IsorunSpec", "IsorunCgroups", "IsorunCore", "IsorunVM",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .target(
            name: "IsorunCLI",
            dependencies: [
                "IsorunCore", "IsorunCgroups", "IsorunSandbox", "IsorunSpec", "IsorunVM", "IsorunBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "isorun", dependencies: ["IsorunCLI"]),

        // The host <-> guest control protocol, shared by isorun and isorun-init.
        .target(name: "IsorunGuestProtocol"),
        // C for isorun-init: reboot(2) and the isa-debug-exit port.
        .target(name: "CIsorunInit"),
        // PID 1 inside the VM: static, no Foundation (its size is boot time under TCG).
        .executableTarget(
            name: "isorun-init",
            dependencies: ["IsorunGuestProtocol", "CIsorunInit"],
            swiftSettings: [.unsafeFlags(["-Osize"])],
            linkerSettings: [.unsafeFlags(["-static-executable", "-Xlinker", "--strip-all", "-Xlinker", "--gc-sections"])]
        ),

        .testTarget(name: "IsorunSpecTests", dependencies: ["IsorunSpec"]),
        .testTarget(name: "IsorunSandboxTests", dependencies: ["IsorunSandbox", "IsorunCgroups", "IsorunSpec"]),
        .testTarget(name: "IsorunCLITests", dependencies: ["IsorunCLI"]),
        .testTarget(name: "IsorunBenchTests", dependencies: ["IsorunBench"]),
        .testTarget(name: "IsorunVMTests", dependencies: ["IsorunVM", "IsorunCore", "IsorunGuestProtocol", "IsorunSpec", "IsorunSys"]),
        .testTarget(name: "IntegrationTests", dependencies: ["IsorunSys", "IsorunCgroups"]),
    ]
)
