/// The whole `config.json` of an OCI bundle (runtime-spec v1.2).
///
/// Every launcher (bare, sandbox, VM) reads the same value, so one bundle can run
/// in any mode. Property names are the spec's JSON keys, which keeps the synthesized
/// `Encodable` conformance free of custom key tables; reading is by hand (`init(json:)`,
/// see `JSONFields.swift`). Keys that isorun does not model (for example `windows`,
/// `solaris`) are ignored when reading rather than rejected, as the spec asks of runtimes.
public struct RuntimeConfig: Sendable, Encodable, Equatable {
    /// The spec version the bundle was written for, e.g. `1.3.0`. Only major version 1 is accepted.
    public var ociVersion: String
    /// The program to run. Optional in the spec (for `create` without `start`), but required by every isorun mode.
    public var process: Process?
    /// The root filesystem. Relative paths are resolved against the bundle directory by `Bundle`.
    public var root: Root?
    /// The container's hostname; needs a private UTS namespace when `linux` is present.
    public var hostname: String?
    /// The container's NIS domain name; needs a private UTS namespace like `hostname`.
    public var domainname: String?
    /// Mounts set up on top of the root filesystem, in order.
    public var mounts: [Mount]?
    /// Programs the runtime runs at lifecycle points.
    public var hooks: Hooks?
    /// Free-form metadata; isorun may read its own keys from here.
    public var annotations: [String: String]?
    /// Linux-specific settings: namespaces, cgroups, seccomp and more.
    public var linux: Linux?
    /// Settings for runtimes that run the container inside a virtual machine.
    public var vm: VM?

    /// Builds a configuration in code, e.g. for tests or generated bundles.
    public init(
        ociVersion: String = "1.3.0",
        process: Process? = nil,
        root: Root? = nil,
        hostname: String? = nil,
        domainname: String? = nil,
        mounts: [Mount]? = nil,
        hooks: Hooks? = nil,
        annotations: [String: String]? = nil,
        linux: Linux? = nil,
        vm: VM? = nil
    ) {
        self.ociVersion = ociVersion
        self.process = process
        self.root = root
        self.hostname = hostname
        self.domainname = domainname
        self.mounts = mounts
        self.hooks = hooks
        self.annotations = annotations
        self.linux = linux
        self.vm = vm
    }
}

extension RuntimeConfig {
    /// Whether the container gets (or joins) a namespace of type `t`, so callers
    /// do not have to unwrap `linux` and scan the list themselves.
    public func hasNamespace(_ t: NamespaceType) -> Bool {
        linux?.namespace(t) != nil
    }
}

/// Where the container's root filesystem lives.
public struct Root: Sendable, Encodable, Equatable {
    /// Absolute, or relative to the bundle directory.
    public var path: String
    /// Mount the root filesystem read-only when true.
    public var readonly: Bool?

    /// Builds a root entry in code.
    public init(path: String, readonly: Bool? = nil) {
        self.path = path
        self.readonly = readonly
    }
}

/// Programs run at lifecycle points. `prestart` is deprecated by the spec in favour
/// of `createRuntime`, but still decoded because older bundles use it.
public struct Hooks: Sendable, Encodable, Equatable {
    /// Deprecated: runs after the namespaces exist, before `pivot_root`, in the runtime namespace.
    public var prestart: [Hook]?
    /// Runs in the runtime namespace after the container's namespaces are created.
    public var createRuntime: [Hook]?
    /// Runs in the container namespace before `pivot_root`.
    public var createContainer: [Hook]?
    /// Runs in the container namespace just before the user process starts.
    public var startContainer: [Hook]?
    /// Runs in the runtime namespace after the user process has started.
    public var poststart: [Hook]?
    /// Runs in the runtime namespace after the container is deleted.
    public var poststop: [Hook]?

    /// Builds a hook table in code.
    public init(
        prestart: [Hook]? = nil,
        createRuntime: [Hook]? = nil,
        createContainer: [Hook]? = nil,
        startContainer: [Hook]? = nil,
        poststart: [Hook]? = nil,
        poststop: [Hook]? = nil
    ) {
        self.prestart = prestart
        self.createRuntime = createRuntime
        self.createContainer = createContainer
        self.startContainer = startContainer
        self.poststart = poststart
        self.poststop = poststop
    }
}

/// One hook program. The spec passes the container state on its stdin.
public struct Hook: Sendable, Encodable, Equatable {
    /// Absolute path of the program in the runtime namespace.
    public var path: String
    /// Full argv, including argv[0].
    public var args: [String]?
    /// Environment in `KEY=value` form.
    public var env: [String]?
    /// Seconds before the hook is killed; must be positive when set.
    public var timeout: Int?

    /// Builds a hook in code.
    public init(path: String, args: [String]? = nil, env: [String]? = nil, timeout: Int? = nil) {
        self.path = path
        self.args = args
        self.env = env
        self.timeout = timeout
    }
}

// MARK: Reading from JSON

extension RuntimeConfig {
    /// Reads a whole `config.json`; see `JSONFields.swift` for why by hand.
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            ociVersion: try o.required("ociVersion", JSONRead.string),
            process: try o.optional("process", Process.init(json:)),
            root: try o.optional("root", Root.init(json:)),
            hostname: try o.optional("hostname", JSONRead.string),
            domainname: try o.optional("domainname", JSONRead.string),
            mounts: try o.optional("mounts", JSONRead.objects(Mount.init(json:))),
            hooks: try o.optional("hooks", Hooks.init(json:)),
            annotations: try o.optional("annotations", JSONRead.stringMap),
            linux: try o.optional("linux", Linux.init(json:)),
            vm: try o.optional("vm", VM.init(json:))
        )
    }
}

extension Root {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            path: try o.required("path", JSONRead.string),
            readonly: try o.optional("readonly", JSONRead.bool)
        )
    }
}

extension Hooks {
    /// Also how a container record stores the bundle's hooks for `start` and `delete`.
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            prestart: try o.optional("prestart", JSONRead.objects(Hook.init(json:))),
            createRuntime: try o.optional("createRuntime", JSONRead.objects(Hook.init(json:))),
            createContainer: try o.optional("createContainer", JSONRead.objects(Hook.init(json:))),
            startContainer: try o.optional("startContainer", JSONRead.objects(Hook.init(json:))),
            poststart: try o.optional("poststart", JSONRead.objects(Hook.init(json:))),
            poststop: try o.optional("poststop", JSONRead.objects(Hook.init(json:)))
        )
    }
}

extension Hook {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            path: try o.required("path", JSONRead.string),
            args: try o.optional("args", JSONRead.strings),
            env: try o.optional("env", JSONRead.strings),
            timeout: try o.optional("timeout", JSONRead.integer(Int.self))
        )
    }
}
