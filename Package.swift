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

        // The host <-> guest control protocol. isorun-init compiles the same files
        // (symlinked into Sources/isorun-init/Protocol) in Embedded mode.
        .target(name: "IsorunGuestProtocol"),
        // C for isorun-init: the libc it sees, reboot(2), the isa-debug-exit port, spawning.
        .target(name: "CIsorunInit"),
        // PID 1 inside the VM, in Embedded Swift: what it runs and its size are boot time
        // under TCG. Embedded code cannot import modules built the ordinary way, and the
        // global -static-executable of a release build would hide its standard library:
        // `make release` builds it as a product of its own (see Makefile).
        .executableTarget(
            name: "isorun-init",
            dependencies: ["CIsorunInit"],
            swiftSettings: [.enableExperimentalFeature("Embedded"), .unsafeFlags(["-wmo", "-Osize"])],
            linkerSettings: [.unsafeFlags(["-static-executable", "-Xlinker", "--strip-all", "-Xlinker", "--gc-sections"])]
        ),

        .testTarget(name: "IsorunSpecTests", dependencies: ["IsorunSpec"]),
        .testTarget(name: "IsorunCoreTests", dependencies: ["IsorunCore", "IsorunSys"]),
        .testTarget(name: "IsorunSandboxTests", dependencies: ["IsorunSandbox", "IsorunCgroups", "IsorunSpec", "IsorunSys"]),
        .testTarget(name: "IsorunCLITests", dependencies: ["IsorunCLI"]),
        .testTarget(name: "IsorunBenchTests", dependencies: ["IsorunBench"]),
        .testTarget(name: "IsorunVMTests", dependencies: ["IsorunVM", "IsorunCore", "IsorunGuestProtocol", "IsorunSandbox", "IsorunSpec", "IsorunSys"]),
        .testTarget(name: "IntegrationTests", dependencies: ["IsorunSys", "IsorunCgroups"]),
    ]
)
