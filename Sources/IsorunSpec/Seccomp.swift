/// A seccomp filter in libseccomp terms, as the spec describes it.
public struct Seccomp: Sendable, Encodable, Equatable {
    /// Action for system calls no rule matches, e.g. `SCMP_ACT_ERRNO`.
    public var defaultAction: String
    /// errno returned by `defaultAction` when it is `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE`.
    public var defaultErrnoRet: UInt32?
    /// Architectures the filter covers, e.g. `SCMP_ARCH_X86_64`.
    public var architectures: [String]?
    /// `seccomp(2)` flags such as `SECCOMP_FILTER_FLAG_LOG`.
    public var flags: [String]?
    /// Unix socket that receives the notify file descriptor for `SCMP_ACT_NOTIFY`.
    public var listenerPath: String?
    /// Opaque data sent to the listener.
    public var listenerMetadata: String?
    /// Rules, applied by libseccomp.
    public var syscalls: [SyscallRule]?

    /// Builds a filter in code.
    public init(
        defaultAction: String,
        defaultErrnoRet: UInt32? = nil,
        architectures: [String]? = nil,
        flags: [String]? = nil,
        listenerPath: String? = nil,
        listenerMetadata: String? = nil,
        syscalls: [SyscallRule]? = nil
    ) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.flags = flags
        self.listenerPath = listenerPath
        self.listenerMetadata = listenerMetadata
        self.syscalls = syscalls
    }

    /// The actions libseccomp understands; validation rejects anything else so a
    /// typo fails at load time instead of inside the pre-exec shim.
    public static let validActions: [String] = [
        "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
    ]

    /// The seccomp(2) flags a profile may ask for, with their values (linux/seccomp.h).
    public static let filterFlags: [(name: String, value: UInt32)] = [
        ("SECCOMP_FILTER_FLAG_TSYNC", 1), ("SECCOMP_FILTER_FLAG_LOG", 2), ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", 4),
        ("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 32),
    ]

    /// Whether any rule hands system calls to an agent (`SCMP_ACT_NOTIFY`).
    public var notifiesAgent: Bool {
        defaultAction == "SCMP_ACT_NOTIFY" || (syscalls ?? []).contains { $0.action == "SCMP_ACT_NOTIFY" }
    }

    /// The argument comparison operators libseccomp understands.
    public static let validOperators: [String] = [
        "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
        "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
    ]
}

/// One rule: an action for a set of system calls, optionally narrowed by arguments.
public struct SyscallRule: Sendable, Encodable, Equatable {
    /// System-call names, e.g. `["mount", "umount2"]`; must not be empty.
    public var names: [String]
    /// One of `Seccomp.validActions`.
    public var action: String
    /// errno for `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE`.
    public var errnoRet: UInt32?
    /// Argument conditions; all must hold.
    public var args: [SyscallArg]?

    /// Builds a rule in code.
    public init(names: [String], action: String, errnoRet: UInt32? = nil, args: [SyscallArg]? = nil) {
        self.names = names
        self.action = action
        self.errnoRet = errnoRet
        self.args = args
    }
}

/// A condition on one system-call argument.
public struct SyscallArg: Sendable, Encodable, Equatable {
    /// Zero-based argument index.
    public var index: UInt32
    /// Value to compare with (the mask for `SCMP_CMP_MASKED_EQ`).
    public var value: UInt64
    /// Second operand, used by `SCMP_CMP_MASKED_EQ`.
    public var valueTwo: UInt64?
    /// One of `Seccomp.validOperators`.
    public var op: String

    /// Builds a condition in code.
    public init(index: UInt32, value: UInt64, valueTwo: UInt64? = nil, op: String) {
        self.index = index
        self.value = value
        self.valueTwo = valueTwo
        self.op = op
    }
}

// MARK: Reading from JSON

extension Seccomp {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            defaultAction: try o.required("defaultAction", JSONRead.string),
            defaultErrnoRet: try o.optional("defaultErrnoRet", JSONRead.integer(UInt32.self)),
            architectures: try o.optional("architectures", JSONRead.strings),
            flags: try o.optional("flags", JSONRead.strings),
            listenerPath: try o.optional("listenerPath", JSONRead.string),
            listenerMetadata: try o.optional("listenerMetadata", JSONRead.string),
            syscalls: try o.optional("syscalls", JSONRead.objects(SyscallRule.init(json:)))
        )
    }
}

extension SyscallRule {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            names: try o.required("names", JSONRead.strings),
            action: try o.required("action", JSONRead.string),
            errnoRet: try o.optional("errnoRet", JSONRead.integer(UInt32.self)),
            args: try o.optional("args", JSONRead.objects(SyscallArg.init(json:)))
        )
    }
}

extension SyscallArg {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            index: try o.required("index", JSONRead.integer(UInt32.self)),
            value: try o.required("value", JSONRead.integer(UInt64.self)),
            valueTwo: try o.optional("valueTwo", JSONRead.integer(UInt64.self)),
            op: try o.required("op", JSONRead.string)
        )
    }
}
