/// One mount set up in the container, in the order listed.
public struct Mount: Sendable, Encodable, Equatable {
    /// Where to mount inside the container; must be absolute.
    public var destination: String
    /// Device, directory or pseudo-filesystem name; bind sources are host paths.
    public var source: String?
    /// `mount(8)`-style options such as `nosuid` or `rbind`.
    public var options: [String]?
    /// Filesystem type such as `proc`, `tmpfs` or `bind`.
    public var type: String?
    /// ID-mapped mount: user IDs as seen through this mount.
    public var uidMappings: [IDMapping]?
    /// ID-mapped mount: group IDs as seen through this mount.
    public var gidMappings: [IDMapping]?

    /// Builds a mount in code.
    public init(
        destination: String,
        source: String? = nil,
        options: [String]? = nil,
        type: String? = nil,
        uidMappings: [IDMapping]? = nil,
        gidMappings: [IDMapping]? = nil
    ) {
        self.destination = destination
        self.source = source
        self.options = options
        self.type = type
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
    }
}

/// A contiguous range of IDs mapped from the container to the host, as written
/// to `/proc/<pid>/uid_map`.
public struct IDMapping: Sendable, Encodable, Equatable {
    /// First ID inside the container.
    public var containerID: UInt32
    /// First ID on the host.
    public var hostID: UInt32
    /// Number of IDs in the range; must be at least 1.
    public var size: UInt32

    /// Builds a mapping in code.
    public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
        self.containerID = containerID
        self.hostID = hostID
        self.size = size
    }
}

// MARK: Reading from JSON

extension Mount {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            destination: try o.required("destination", JSONRead.string),
            source: try o.optional("source", JSONRead.string),
            options: try o.optional("options", JSONRead.strings),
            type: try o.optional("type", JSONRead.string),
            uidMappings: try o.optional("uidMappings", JSONRead.objects(IDMapping.init(json:))),
            gidMappings: try o.optional("gidMappings", JSONRead.objects(IDMapping.init(json:)))
        )
    }
}

extension IDMapping {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            containerID: try o.required("containerID", JSONRead.integer(UInt32.self)),
            hostID: try o.required("hostID", JSONRead.integer(UInt32.self)),
            size: try o.required("size", JSONRead.integer(UInt32.self))
        )
    }
}
