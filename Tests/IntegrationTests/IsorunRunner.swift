import Foundation
import Testing
import Glibc

/// Runs the real `isorun` binary on the real bundles in Bundles/.
enum IsorunRunner {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    static var binary: String {
        ProcessInfo.processInfo.environment["ISORUN_BINARY"] ?? "\(repository)/.build/debug/isorun"
    }

    static func bundle(_ name: String) -> String { "\(repository)/Bundles/\(name).bundle" }

    /// The static release binary (what containerd, podman, the benchmarks and a guest run),
    /// or nil with the skip printed.
    static func staticRelease(for test: String) -> String? {
        let release = repository + "/.build/release/isorun"
        guard FileManager.default.isExecutableFile(atPath: release) else {
            print("SKIP \(test): no static release binary at \(release) (make release; make test builds it)")
            return nil
        }
        return release
    }

    /// Why the integration tests cannot run here, or nil when they can.
    static let unavailableReason: String? = {
        if getuid() != 0 { return "integration tests need root (namespaces, cgroups, pivot_root)" }
        if !FileManager.default.isExecutableFile(atPath: binary) { return "no isorun binary at \(binary); run `make test`" }
        if !FileManager.default.fileExists(atPath: bundle("hello") + "/rootfs/bin/busybox") {
            return "bundles are not built; run `make bundles`"
        }
        return nil
    }()

    static var canRun: Bool {
        if let reason = unavailableReason { print("SKIP integration test: \(reason)") }
        return unavailableReason == nil
    }

    struct Result {
        var status: Int32
        var stdout: Data
        var stderr: Data
        var out: String { String(decoding: stdout, as: UTF8.self) }
        var err: String { String(decoding: stderr, as: UTF8.self) }
    }

    static func uniqueID(_ prefix: String) -> String {
        "\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Starts isorun; the caller waits (or signals it first).
    static func start(_ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil,
                      program: String? = nil) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program ?? binary)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        if let stdin {
            let input = Pipe()
            process.standardInput = input
            try process.run()
            input.fileHandleForWriting.write(stdin)
            try input.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
        return (process, out, err)
    }

    static func finish(_ started: (Process, Pipe, Pipe)) -> Result {
        let (process, out, err) = started
        // Read before waiting: a full pipe would block the workload.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }

    static func run(_ arguments: [String], stdin: Data? = nil) throws -> Result {
        finish(try start(arguments, stdin: stdin))
    }

    /// A temporary bundle: `name`'s config with `args` as process.args and root.path
    /// pointing at `name`'s rootfs. The caller removes it.
    /// `configure` may change the rest of the config.
    static func bundleCopy(_ name: String, args: [String],
                           configure: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        let original = bundle(name)
        var config = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: original + "/config.json"))) as? [String: Any])
        var process = config["process"] as? [String: Any] ?? [:]
        process["args"] = args
        config["process"] = process
        config["root"] = ["path": original + "/rootfs", "readonly": true]
        configure(&config)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-bundle-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: directory + "/config.json"))
        return directory
    }

    /// Another program (e.g. a shell that starts isorun in a prepared state).
    static func runProgram(_ program: String, _ arguments: [String]) throws -> Result {
        finish(try start(arguments, program: program))
    }

    /// `isorun --mode M --id ID BUNDLE [-- ARGS]`
    static func run(mode: String, bundle name: String, id: String? = nil, _ args: [String] = [], stdin: Data? = nil) throws -> Result {
        var arguments = ["run", "--mode", mode, "--id", id ?? uniqueID(name), bundle(name)]
        if !args.isEmpty { arguments += ["--"] + args }
        return try run(arguments, stdin: stdin)
    }

    /// Edits the object at `path` in a config being copied (see `bundleCopy`), making the
    /// objects on the way when the config has none: `edit(&config, at: ["linux", "resources"])`.
    static func edit(_ object: inout [String: Any], at path: ArraySlice<String>, _ body: (inout [String: Any]) -> Void) {
        guard let key = path.first else { return body(&object) }
        var inner = object[key] as? [String: Any] ?? [:]
        edit(&inner, at: path.dropFirst(), body)
        object[key] = inner
    }

    /// `isorun --root ROOT create --bundle BUNDLE ID` with stdio on /dev/null, as containerd
    /// calls it (its process must not hold the test's pipes open); its exit status.
    static func create(bundle: String, root: String, id: String) throws -> Int32 {
        try runProgram("/bin/sh", ["-c", "exec \"$0\" --root \"$1\" create --bundle \"$2\" \"$3\" </dev/null >/dev/null 2>&1",
                                   binary, root, bundle, id]).status
    }

    /// Every directory isorun could have left for `id` in any cgroup hierarchy.
    static func cgroupDirectories(for id: String) -> [String] {
        let root = "/sys/fs/cgroup"
        var candidates = ["\(root)/isorun/\(id)"]
        for controller in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            candidates.append("\(root)/\(controller)/isorun/\(id)")
        }
        return candidates.filter { FileManager.default.fileExists(atPath: $0) }
    }
}
