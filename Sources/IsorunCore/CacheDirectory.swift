import IsorunSys

/// Where isorun keeps what is worth keeping between runs: VM mode's guest kernel and
/// images, and compiled seccomp filters.
public enum CacheLocation {
    /// `$ISORUN_CACHE` or /var/cache/isorun: outside the runtime root (a tmpfs that
    /// is per boot on most hosts, swept of unknown entries by every run).
    public static var directory: String {
        HostProcess.variable("ISORUN_CACHE") ?? "/var/cache/isorun"
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
