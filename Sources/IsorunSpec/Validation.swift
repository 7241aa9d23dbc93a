/// Rules that need only the config itself (no filesystem), so a bundle can be
/// checked before anything is created. Filesystem rules (the rootfs exists) live in
/// `Bundle.load`.
extension RuntimeConfig {
    /// Throws the first problem found, in document order; see `validationErrors(file:)` for all of them.
    public func validate(file: String) throws(SpecError) {
        if let first = validationErrors(file: file).first {
            throw first
        }
    }

    /// Every problem found, in document order, so a `check` command can report them all at once.
    public func validationErrors(file: String) -> [SpecError] {
        var validator = ConfigValidator(file: file)
        validator.check(self)
        return validator.problems
    }
}

/// Collects problems while walking a config; each rule reports the JSON path of the offending field.
struct ConfigValidator {
    let file: String
    private(set) var problems: [SpecError] = []

    init(file: String) {
        self.file = file
    }

    mutating func report(_ path: String, _ message: String) {
        problems.append(SpecError(file: file, jsonPath: path, message: message))
    }

    mutating func check(_ config: RuntimeConfig) {
        let major = config.ociVersion.split(separator: ".", maxSplits: 1).first.map(String.init)
        if major != "1" {
            report("ociVersion", "unsupported version \(quoted(config.ociVersion)); isorun reads runtime-spec 1.x")
        }
        if let process = config.process {
            check(process)
        } else {
            report("process", "no process to run")
        }
        if config.linux != nil, !config.hasNamespace(.uts) {
            if config.hostname != nil {
                report("hostname", "setting a hostname needs a uts namespace; add {\"type\": \"uts\"} to linux.namespaces")
            }
            if config.domainname != nil {
                report("domainname", "setting a domain name needs a uts namespace; add {\"type\": \"uts\"} to linux.namespaces")
            }
        }
        for (i, mount) in (config.mounts ?? []).enumerated() {
            let path = "mounts[\(i)]"
            checkAbsolute(mount.destination, at: "\(path).destination", what: "mount destination")
            checkMappings(mount.uidMappings, at: "\(path).uidMappings")
            checkMappings(mount.gidMappings, at: "\(path).gidMappings")
        }
        if let hooks = config.hooks {
            check(hooks)
        }
        if let linux = config.linux {
            check(linux, config: config)
        }
        if let image = config.vm?.image, !VMImage.validFormats.contains(image.format) {
            report("vm.image.format", "unknown image format \(quoted(image.format)); expected \(alternatives(VMImage.validFormats))")
        }
        if let hardware = config.vm?.hwConfig {
            if hardware.vcpus == 0 { report("vm.hwConfig.vcpus", "a VM needs at least one vCPU") }
            if hardware.memory == 0 { report("vm.hwConfig.memory", "a VM needs memory: give its size in bytes") }
        }
    }

    private mutating func check(_ process: Process) {
        let args = process.args ?? []
        if args.isEmpty {
            report("process.args", "no program to run: process.args must list at least the program")
        } else if args[0].isEmpty {
            report("process.args[0]", "the program name is empty")
        }
        checkAbsolute(process.cwd, at: "process.cwd", what: "working directory")
        for (i, entry) in (process.env ?? []).enumerated() where !entry.contains("=") || entry.hasPrefix("=") {
            report("process.env[\(i)]", "expected NAME=value but found \(quoted(entry))")
        }
        if let capabilities = process.capabilities {
            let sets: [(String, [String]?)] = [
                ("bounding", capabilities.bounding), ("effective", capabilities.effective),
                ("inheritable", capabilities.inheritable), ("permitted", capabilities.permitted),
                ("ambient", capabilities.ambient),
            ]
            for (name, list) in sets {
                for (i, capability) in (list ?? []).enumerated() where !capability.hasPrefix("CAP_") {
                    report("process.capabilities.\(name)[\(i)]",
                           "unknown capability \(quoted(capability)); names start with CAP_, e.g. CAP_CHOWN")
                }
            }
        }
        let rlimits = process.rlimits ?? []
        for (i, limit) in rlimits.enumerated() {
            let path = "process.rlimits[\(i)]"
            if !limit.type.hasPrefix("RLIMIT_") {
                report("\(path).type", "unknown rlimit type \(quoted(limit.type)); names start with RLIMIT_, e.g. RLIMIT_NOFILE")
            } else if let first = rlimits.firstIndex(where: { $0.type == limit.type }), first < i {
                report("\(path).type", "duplicate rlimit \(limit.type) (first given at process.rlimits[\(first)])")
            }
            if limit.soft > limit.hard {
                report(path, "soft limit \(limit.soft) is greater than hard limit \(limit.hard) for \(limit.type)")
            }
        }
        if let score = process.oomScoreAdj, !(-1000...1000).contains(score) {
            report("process.oomScoreAdj", "must be between -1000 and 1000, got \(score)")
        }
        let scheduling: [(String, [(field: String, message: String)])] = [
            ("scheduler", process.scheduler?.problems ?? []), ("ioPriority", process.ioPriority?.problems ?? []),
            ("execCPUAffinity", process.execCPUAffinity?.problems ?? []),
        ]
        for (object, problems) in scheduling {
            for problem in problems { report("process.\(object).\(problem.field)", problem.message) }
        }
    }

    private mutating func check(_ hooks: Hooks) {
        let stages: [(String, [Hook]?)] = [
            ("prestart", hooks.prestart), ("createRuntime", hooks.createRuntime),
            ("createContainer", hooks.createContainer), ("startContainer", hooks.startContainer),
            ("poststart", hooks.poststart), ("poststop", hooks.poststop),
        ]
        for (stage, list) in stages {
            for (i, hook) in (list ?? []).enumerated() {
                let path = "hooks.\(stage)[\(i)]"
                checkAbsolute(hook.path, at: "\(path).path", what: "hook path")
                if let timeout = hook.timeout, timeout <= 0 {
                    report("\(path).timeout", "timeout must be a positive number of seconds, got \(timeout)")
                }
            }
        }
    }

    mutating func checkAbsolute(_ value: String, at path: String, what: String) {
        if !value.hasPrefix("/") {
            report(path, "\(what) must be an absolute path, got \(quoted(value))")
        }
    }

    mutating func checkMappings(_ mappings: [IDMapping]?, at path: String) {
        for (i, mapping) in (mappings ?? []).enumerated() where mapping.size == 0 {
            report("\(path)[\(i)].size", "mapping size must be at least 1")
        }
    }
}
