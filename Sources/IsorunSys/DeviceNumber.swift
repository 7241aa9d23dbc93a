import Glibc

/// A device number (dev_t) as glibc packs it: its makedev(), major() and minor() are C
/// macros Swift cannot call.
public enum DeviceNumber {
    public static func make(major: UInt64, minor: UInt64) -> dev_t {
        let high: UInt64 = ((major & 0xffff_f000) << 32) | ((minor & 0xffff_ff00) << 12)
        let low: UInt64 = ((major & 0xfff) << 8) | (minor & 0xff)
        return dev_t(high | low)
    }

    public static func major(_ device: dev_t) -> UInt32 {
        UInt32((device >> 8) & 0xfff) | UInt32((device >> 32) & 0xffff_f000)
    }

    public static func minor(_ device: dev_t) -> UInt32 {
        UInt32(device & 0xff) | UInt32((device >> 12) & 0xffff_ff00)
    }
}
