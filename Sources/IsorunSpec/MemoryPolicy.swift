/// `linux.memoryPolicy` (runtime-spec 1.3): the NUMA policy set_mempolicy(2) gives the
/// container's process, which everything it starts inherits. The names are the spec's; the
/// numbers are the kernel's (linux/mempolicy.h), kept beside the names so that validation
/// and the launchers read one table.
public struct MemoryPolicy: Sendable, Encodable, Equatable {
    /// One of `modes`' names.
    public var mode: String
    /// A node list such as `0-3,7`.
    public var nodes: String?
    /// Names from `flagBits`.
    public var flags: [String]?

    public init(mode: String, nodes: String? = nil, flags: [String]? = nil) {
        self.mode = mode
        self.nodes = nodes
        self.flags = flags
    }

    public static let modes: KeyValuePairs<String, Int32> = [
        "MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3, "MPOL_LOCAL": 4,
        "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6,
    ]

    public static let flagBits: KeyValuePairs<String, Int32> = [
        "MPOL_F_NUMA_BALANCING": 1 << 13, "MPOL_F_RELATIVE_NODES": 1 << 14, "MPOL_F_STATIC_NODES": 1 << 15,
    ]

    /// The most nodes a mask holds here: the kernel's MAX_NUMNODES is at most 1024.
    public static let nodeLimit = 1024

    /// Modes that place memory on the listed nodes and so need at least one.
    static let modesNeedingNodes: Set = ["MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE"]
    /// Modes that name no nodes (the kernel refuses a mask with them).
    static let modesWithoutNodes: Set = ["MPOL_DEFAULT", "MPOL_LOCAL"]

    /// The node numbers, ascending; nil when `nodes` is not a node list.
    public var nodeNumbers: [Int]? { NumberList.parse(nodes ?? "", below: Self.nodeLimit) }

    /// The mode with its flags, as set_mempolicy(2) takes it; nil for an unknown name.
    public var kernelMode: Int32? {
        guard var value = Self.modes.first(where: { $0.key == mode })?.value else { return nil }
        for name in flags ?? [] {
            guard let bit = Self.flagBits.first(where: { $0.key == name })?.value else { return nil }
            value |= bit
        }
        return value
    }

    /// Problems as (field under `linux.memoryPolicy`, message), in field order. The kernel
    /// would refuse all of these with a bare EINVAL. Combinations whose acceptance depends
    /// on the kernel's version (MPOL_F_NUMA_BALANCING with a mode other than MPOL_BIND)
    /// are left to the kernel, whose refusal names this field too.
    public var problems: [(field: String, message: String)] {
        var found: [(field: String, message: String)] = []
        if !Self.modes.contains(where: { $0.key == mode }) {
            found.append(("mode", "unknown mode \(quoted(mode)); expected one of \(Self.modes.map(\.key).joined(separator: ", "))"))
        }
        let names = flags ?? []
        for (i, name) in names.enumerated() where !Self.flagBits.contains(where: { $0.key == name }) {
            found.append(("flags[\(i)]", "unknown flag \(quoted(name)); expected one of \(Self.flagBits.map(\.key).joined(separator: ", "))"))
        }
        if names.contains("MPOL_F_STATIC_NODES") && names.contains("MPOL_F_RELATIVE_NODES") {
            found.append(("flags", "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other"))
        }
        guard let numbers = nodeNumbers else {
            found.append(("nodes", "\(quoted(nodes ?? "")) is not a node list such as 0-3,7 (nodes 0 to \(Self.nodeLimit - 1))"))
            return found
        }
        if Self.modesWithoutNodes.contains(mode) && !numbers.isEmpty {
            found.append(("nodes", "\(mode) takes no nodes, got \(quoted(nodes ?? ""))"))
        } else if Self.modesNeedingNodes.contains(mode) && numbers.isEmpty {
            found.append(("nodes", "\(mode) needs at least one node"))
        }
        return found
    }
}

/// Lists of small numbers as cpusets and node masks write them: `0-3,7`.
enum NumberList {
    /// The numbers, ascending and without repeats; nil when the text is not such a list or
    /// names a number at or beyond `limit`. Empty text is an empty list.
    static func parse(_ list: String, below limit: Int) -> [Int]? {
        if list.isEmpty { return [] }
        var chosen = Set<Int>()
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), bounds.allSatisfy({ !$0.isEmpty && $0.allSatisfy { "0"..."9" ~= $0 } }),
                  let low = Int(bounds[0]), let high = bounds.count == 2 ? Int(bounds[1]) : low,
                  low <= high, high < limit else { return nil }
            chosen.formUnion(low...high)
        }
        return chosen.sorted()
    }
}

// MARK: Reading from JSON

extension MemoryPolicy {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(mode: try o.required("mode", JSONRead.string), nodes: try o.optional("nodes", JSONRead.string),
                  flags: try o.optional("flags", JSONRead.strings))
    }
}
