/// The program the container runs and the identity it runs with.
///
/// `user` is optional here although the spec requires it on POSIX, because
/// hand-written bundles often leave it out; `resolvedUser` treats a missing user as root.
public struct Process: Sendable, Encodable, Equatable {
    /// Attach a pseudo-terminal to the process.
    public var terminal: Bool?
    /// Initial terminal size; only meaningful with `terminal`.
    public var consoleSize: ConsoleSize?
    /// The identity to run as; nil means uid 0, gid 0.
    public var user: User?
    /// argv; the first entry is looked up like `execvp` does.
    public var args: [String]?
    /// Windows-only full command line; decoded so such bundles still load.
    public var commandLine: String?
    /// Environment in `KEY=value` form.
    public var env: [String]?
    /// Working directory inside the container; must be absolute.
    public var cwd: String
    /// Capability sets to keep.
    public var capabilities: Capabilities?
    /// Resource limits applied with `setrlimit`.
    public var rlimits: [Rlimit]?
    /// Set `PR_SET_NO_NEW_PRIVS` so setuid binaries cannot gain privileges.
    public var noNewPrivileges: Bool?
    /// AppArmor profile name to apply.
    public var apparmorProfile: String?
    /// Value written to `/proc/self/oom_score_adj`.
    public var oomScoreAdj: Int?
    /// SELinux label for the process.
    public var selinuxLabel: String?
    /// Scheduling policy and parameters (sched_setattr).
    public var scheduler: Scheduler?
    /// I/O scheduling class and level (ioprio_set); children inherit it.
    public var ioPriority: IOPriority?
    /// CPUs for a process started by `exec`; not applied to the container's own process.
    public var execCPUAffinity: ExecCPUAffinity?

    /// Builds a process in code.
    public init(
        terminal: Bool? = nil,
        consoleSize: ConsoleSize? = nil,
        user: User? = nil,
        args: [String]? = nil,
        commandLine: String? = nil,
        env: [String]? = nil,
        cwd: String = "/",
        capabilities: Capabilities? = nil,
        rlimits: [Rlimit]? = nil,
        noNewPrivileges: Bool? = nil,
        apparmorProfile: String? = nil,
        oomScoreAdj: Int? = nil,
        selinuxLabel: String? = nil,
        scheduler: Scheduler? = nil,
        ioPriority: IOPriority? = nil,
        execCPUAffinity: ExecCPUAffinity? = nil
    ) {
        self.terminal = terminal
        self.consoleSize = consoleSize
        self.user = user
        self.args = args
        self.commandLine = commandLine
        self.env = env
        self.cwd = cwd
        self.capabilities = capabilities
        self.rlimits = rlimits
        self.noNewPrivileges = noNewPrivileges
        self.apparmorProfile = apparmorProfile
        self.oomScoreAdj = oomScoreAdj
        self.selinuxLabel = selinuxLabel
        self.scheduler = scheduler
        self.ioPriority = ioPriority
        self.execCPUAffinity = execCPUAffinity
    }

    /// The user to run as, with the spec's implied default (root) filled in,
    /// so launchers never have to repeat that decision.
    public var resolvedUser: User {
        user ?? User(uid: 0, gid: 0)
    }
}

/// Terminal size in character cells.
public struct ConsoleSize: Sendable, Encodable, Equatable {
    /// Rows.
    public var height: UInt32
    /// Columns.
    public var width: UInt32

    /// Builds a console size in code.
    public init(height: UInt32, width: UInt32) {
        self.height = height
        self.width = width
    }
}

/// The POSIX identity of the process.
public struct User: Sendable, Encodable, Equatable {
    /// User ID in the container's user namespace.
    public var uid: UInt32
    /// Primary group ID in the container's user namespace.
    public var gid: UInt32
    /// File-creation mask; nil keeps the runtime's default.
    public var umask: UInt32?
    /// Supplementary groups.
    public var additionalGids: [UInt32]?
    /// Informational; the spec does not ask runtimes to resolve it.
    public var username: String?

    /// Builds a user in code.
    public init(uid: UInt32, gid: UInt32, umask: UInt32? = nil, additionalGids: [UInt32]? = nil, username: String? = nil) {
        self.uid = uid
        self.gid = gid
        self.umask = umask
        self.additionalGids = additionalGids
        self.username = username
    }
}

/// Capability names (e.g. `CAP_NET_BIND_SERVICE`) per set; a missing set means an empty one.
public struct Capabilities: Sendable, Encodable, Equatable {
    /// Limits what the process can ever gain.
    public var bounding: [String]?
    /// Checked by the kernel for permission decisions.
    public var effective: [String]?
    /// Preserved across `execve` when also permitted.
    public var inheritable: [String]?
    /// Upper bound for effective and inheritable.
    public var permitted: [String]?
    /// Kept across `execve` of non-privileged programs.
    public var ambient: [String]?

    /// Builds capability sets in code.
    public init(
        bounding: [String]? = nil,
        effective: [String]? = nil,
        inheritable: [String]? = nil,
        permitted: [String]? = nil,
        ambient: [String]? = nil
    ) {
        self.bounding = bounding
        self.effective = effective
        self.inheritable = inheritable
        self.permitted = permitted
        self.ambient = ambient
    }
}

/// One `setrlimit` call.
public struct Rlimit: Sendable, Encodable, Equatable {
    /// Resource name as in `getrlimit(2)`, e.g. `RLIMIT_NOFILE`.
    public var type: String
    /// The limit the kernel enforces.
    public var soft: UInt64
    /// The ceiling the process may raise `soft` to.
    public var hard: UInt64

    /// Builds an rlimit in code.
    public init(type: String, soft: UInt64, hard: UInt64) {
        self.type = type
        self.soft = soft
        self.hard = hard
    }
}

// MARK: Reading from JSON

extension Process {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            terminal: try o.optional("terminal", JSONRead.bool),
            consoleSize: try o.optional("consoleSize", ConsoleSize.init(json:)),
            user: try o.optional("user", User.init(json:)),
            args: try o.optional("args", JSONRead.strings),
            commandLine: try o.optional("commandLine", JSONRead.string),
            env: try o.optional("env", JSONRead.strings),
            cwd: try o.required("cwd", JSONRead.string),
            capabilities: try o.optional("capabilities", Capabilities.init(json:)),
            rlimits: try o.optional("rlimits", JSONRead.objects(Rlimit.init(json:))),
            noNewPrivileges: try o.optional("noNewPrivileges", JSONRead.bool),
            apparmorProfile: try o.optional("apparmorProfile", JSONRead.string),
            oomScoreAdj: try o.optional("oomScoreAdj", JSONRead.integer(Int.self)),
            selinuxLabel: try o.optional("selinuxLabel", JSONRead.string),
            scheduler: try o.optional("scheduler", Scheduler.init(json:)),
            ioPriority: try o.optional("ioPriority", IOPriority.init(json:)),
            execCPUAffinity: try o.optional("execCPUAffinity", ExecCPUAffinity.init(json:))
        )
    }
}

extension ConsoleSize {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            height: try o.required("height", JSONRead.integer(UInt32.self)),
            width: try o.required("width", JSONRead.integer(UInt32.self))
        )
    }
}

extension User {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            uid: try o.required("uid", JSONRead.integer(UInt32.self)),
            gid: try o.required("gid", JSONRead.integer(UInt32.self)),
            umask: try o.optional("umask", JSONRead.integer(UInt32.self)),
            additionalGids: try o.optional("additionalGids") { n throws(JSONFieldError) in
                try n.array(of: "non-negative integers") { e throws(JSONFieldError) in try e.integer(UInt32.self) }
            },
            username: try o.optional("username", JSONRead.string)
        )
    }
}

extension Capabilities {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            bounding: try o.optional("bounding", JSONRead.strings),
            effective: try o.optional("effective", JSONRead.strings),
            inheritable: try o.optional("inheritable", JSONRead.strings),
            permitted: try o.optional("permitted", JSONRead.strings),
            ambient: try o.optional("ambient", JSONRead.strings)
        )
    }
}

extension Rlimit {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            type: try o.required("type", JSONRead.string),
            soft: try o.required("soft", JSONRead.integer(UInt64.self)),
            hard: try o.required("hard", JSONRead.integer(UInt64.self))
        )
    }
}
