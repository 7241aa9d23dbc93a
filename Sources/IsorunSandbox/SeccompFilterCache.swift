import IsorunCore
import IsorunSpec
import IsorunSys

/// Compiled seccomp filters kept under `<cache>/seccomp`, so that a container start does
/// not compile the same profile again. libseccomp adds rules one transaction at a time and
/// the default profile has ~350 of them: ~0.4 ms of every sandbox start and `create` here
/// (perf), against one small file read.
///
/// A filter that does not match its profile would be a security bug, so an entry stores
/// everything that decides its program — the profile, this binary (which links libseccomp
/// statically) and the kernel release — and is used only when all of it is equal byte for
/// byte; the file name is just a hash of that text. Entries are written atomically and
/// checked for a whole program before use; anything else means compiling, as without a cache.
enum SeccompFilterCache {
    /// When the directory holds this many files (old binaries leave entries behind), it
    /// is emptied before the next entry is stored.
    static let maximumEntries = 256

    static func filter(for profile: Seccomp, configFile: String,
                       directory: String = "\(CacheLocation.directory)/seccomp") throws(IsorunError) -> CompiledSeccompFilter {
        try filter(describedAs: description(of: profile), configFile: configFile, directory: directory) { profile }
    }

    /// Every field of `profile`, in a fixed order.
    static func description(of profile: Seccomp) -> String {
        var writer = JSONWriter()
        profile.write(to: &writer)
        return writer.text
    }

    /// The filter for the profile `make` returns, which `description` names completely
    /// (for this binary, with `unlistedArchitectureErrno`); `make` runs only when the
    /// cache has no entry.
    static func filter(describedAs description: String, configFile: String,
                       directory: String = "\(CacheLocation.directory)/seccomp",
                       unlistedArchitectureErrno: UInt32? = nil,
                       _ make: () -> Seccomp) throws(IsorunError) -> CompiledSeccompFilter {
        func compile() throws(IsorunError) -> CompiledSeccompFilter {
            try SeccompCompiler.compile(make(), configFile: configFile, unlistedArchitectureErrno: unlistedArchitectureErrno)
        }
        guard let inputs = inputs(describing: description) else { return try compile() }
        var key = CacheKey()
        key.add(inputs)
        let path = "\(directory)/\(key.hex).bpf"
        if let cached = load(path, inputs: inputs) { return cached }
        let compiled = try compile()
        store(compiled, inputs: inputs, at: path, directory: directory)
        return compiled
    }

    /// The text an entry must match: format, binary, kernel, profile. Nil when this
    /// binary cannot be identified (then nothing is cached).
    static func inputs(describing profile: String) -> String? {
        guard let binary = try? Files.identity(of: "/proc/self/exe") else { return nil }
        return "isorun seccomp filter 1\nbinary \(binary.inode) \(binary.size) \(binary.modified)\n"
            + "kernel \(HostProcess.kernelRelease)\nprofile \(profile)\n"
    }

    /// An entry is `inputs`, a NUL, then the program's instructions.
    static func load(_ path: String, inputs: String) -> CompiledSeccompFilter? {
        guard let bytes = try? Files.read(path) else { return nil }
        let header = Array(inputs.utf8) + [0]
        guard bytes.count > header.count, bytes.starts(with: header) else { return nil }
        return CompiledSeccompFilter(instructions: Array(bytes[header.count...]))
    }

    /// Best effort: a cache that cannot be written only costs the next start a compile.
    static func store(_ filter: CompiledSeccompFilter, inputs: String, at path: String, directory: String) {
        guard (try? Files.makeDirectories(directory, mode: 0o700)) != nil, let entries = try? Files.list(directory) else { return }
        if entries.count >= maximumEntries {
            for entry in entries { try? Files.remove("\(directory)/\(entry)") }
        }
        try? Files.writeAtomically(path, bytes: Array(inputs.utf8) + [0] + filter.instructions, mode: 0o600)
    }
}

extension Seccomp {
    /// Every field, in a fixed order: the cache's description of the profile.
    func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.key("defaultAction"); writer.string(defaultAction)
            if let defaultErrnoRet { writer.key("defaultErrnoRet"); writer.integer(defaultErrnoRet) }
            if let architectures { writer.key("architectures"); writer.strings(architectures) }
            if let flags { writer.key("flags"); writer.strings(flags) }
            if let listenerPath { writer.key("listenerPath"); writer.string(listenerPath) }
            if let listenerMetadata { writer.key("listenerMetadata"); writer.string(listenerMetadata) }
            guard let syscalls else { return }
            writer.key("syscalls")
            writer.array { writer in
                for rule in syscalls {
                    writer.object { writer in
                        writer.key("names"); writer.strings(rule.names)
                        writer.key("action"); writer.string(rule.action)
                        if let errnoRet = rule.errnoRet { writer.key("errnoRet"); writer.integer(errnoRet) }
                        guard let args = rule.args else { return }
                        writer.key("args")
                        writer.array { writer in
                            for arg in args {
                                writer.object { writer in
                                    writer.key("index"); writer.integer(arg.index)
                                    writer.key("value"); writer.integer(arg.value)
                                    if let valueTwo = arg.valueTwo { writer.key("valueTwo"); writer.integer(valueTwo) }
                                    writer.key("op"); writer.string(arg.op)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
