import IsorunSys

/// Where isorun keeps what is worth keeping between runs: VM mode's guest kernel, QEMU
/// and images, and compiled seccomp filters. Outside the runtime root, which is a tmpfs
/// per boot on most hosts and swept of unknown entries by every run.
public enum CacheLocation {
    /// root's cache, where `make kernel qemu` builds; readable by every user.
    public static let systemDirectory = "/var/cache/isorun"

    /// `$ISORUN_CACHE`; else root's cache, or for a rootless isorun, which may not write
    /// there, the user's own: `$XDG_CACHE_HOME/isorun` or `~/.cache/isorun`.
    public static var directory: String {
        if let chosen = HostProcess.variable("ISORUN_CACHE") { return chosen }
        guard HostProcess.isRootless else { return systemDirectory }
        if let base = HostProcess.variable("XDG_CACHE_HOME"), base.hasPrefix("/") { return "\(base)/isorun" }
        if let home = HostProcess.variable("HOME"), home.hasPrefix("/") { return "\(home)/.cache/isorun" }
        return systemDirectory
    }

    /// The cache whose `<component>/current` VM mode uses (`kernel`, `qemu`): `directory`,
    /// unless a rootless isorun's own cache has no such build; then root's, so that one
    /// `make kernel qemu` serves every user.
    public static func holding(_ component: String) -> String {
        let own = directory
        guard HostProcess.isRootless, HostProcess.variable("ISORUN_CACHE") == nil,
              !Files.exists("\(own)/\(component)/current") else { return own }
        return systemDirectory
    }
}

/// FNV-1a (64 bit) over strings: a file name for a cache entry, not a security
/// boundary. An entry that must match its inputs exactly stores them and compares
/// (see the seccomp filter cache).
public struct CacheKey {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add(_ text: String) {
        for byte in text.utf8 {
            state ^= UInt64(byte)
            state &*= 0x0000_0100_0000_01b3
        }
        state ^= 0x0a
        state &*= 0x0000_0100_0000_01b3
    }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: (0..<16).reversed().map { digits[Int((state >> (UInt64($0) * 4)) & 0xf)] }, as: UTF8.self)
    }
}
