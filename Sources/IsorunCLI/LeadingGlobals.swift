import Glibc
import IsorunSpec

/// runc's global flags, which callers such as containerd put before the command
/// (`isorun --root R --log F --log-format json create …`). ArgumentParser reads options
/// after the command, so these are taken off the front first and become the defaults
/// of every command's `GlobalOptions`.
struct LeadingGlobals: Equatable {
    var root: String?
    var log: String?
    var logFormat = "text"
    var debug = false
    var systemdCgroup = false

    /// Set once at start, before any command is parsed.
    nonisolated(unsafe) static var current = LeadingGlobals()

    /// Arrays, not `Set`s: see `MountOptions` on what a hashed table costs at start-up.
    static let valueFlags: [String] = ["--root", "--log", "--log-format", "--criu", "--rootless"]
    static let plainFlags: [String] = ["--debug", "--systemd-cgroup"]

    /// The leading global flags and the rest of the command line; nil when a flag lacks its value.
    static func split(_ arguments: [String]) -> (LeadingGlobals, [String])? {
        var globals = LeadingGlobals()
        var index = 0
        while index < arguments.count {
            var name = arguments[index]
            var value: String?
            if let equals = name.firstIndex(of: "="), name.hasPrefix("--") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if plainFlags.contains(name) && value == nil {
                if name == "--debug" { globals.debug = true } else { globals.systemdCgroup = true }
                index += 1
                continue
            }
            guard valueFlags.contains(name) else { break }
            if value == nil {
                guard index + 1 < arguments.count else { return nil }
                value = arguments[index + 1]
                index += 1
            }
            index += 1
            switch name {
            case "--root": globals.root = value
            case "--log": globals.log = value
            case "--log-format": globals.logFormat = value ?? "text"
            default: break // --criu, --rootless: accepted, nothing to do
            }
        }
        return (globals, Array(arguments[index...]))
    }

    /// Appends isorun's failure to the `--log` file, as one JSON object per line when
    /// `--log-format json` (containerd reports the last one to its user).
    func logFailure(_ message: String) {
        guard let log else { return }
        let line: String
        if logFormat == "json" {
            var writer = JSONWriter()
            writer.object { writer in
                writer.key("level"); writer.string("error")
                writer.key("msg"); writer.string(message)
                writer.key("time"); writer.string(Self.timestamp())
            }
            line = writer.text + "\n"
        } else {
            line = "\(Self.timestamp()) error: \(message)\n"
        }
        let fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        _ = Array(line.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(nulTerminated: buffer)
    }
}
