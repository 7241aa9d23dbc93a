import Glibc

/// A failed system call: which call, on what, and the errno it returned.
///
/// Every layer above turns this into its own error with context; the CLI prints
/// it as one line such as `mkdir /sys/fs/cgroup/pids/isorun/x: Permission denied (EACCES)`.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    public let call: String
    public let subject: String?
    public let errno: Int32

    public init(_ call: String, _ subject: String? = nil, errno: Int32 = Glibc.errno) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    /// ENOENT: the most common failure callers want to tell apart.
    public var isNoSuchFile: Bool { errno == ENOENT }

    public var description: String {
        let target = subject.map { "\(call) \($0)" } ?? call
        return "\(target): \(Errno.describe(errno))"
    }
}

/// Human-readable errno values: the C library's text plus the symbolic name.
public enum Errno {
    private static let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO",
        E2BIG: "E2BIG", ENOEXEC: "ENOEXEC", EBADF: "EBADF", ECHILD: "ECHILD", EAGAIN: "EAGAIN",
        ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST",
        EXDEV: "EXDEV", ENODEV: "ENODEV", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL",
        ENFILE: "ENFILE", EMFILE: "EMFILE", ENOSPC: "ENOSPC", EROFS: "EROFS", ENAMETOOLONG: "ENAMETOOLONG",
        ENOSYS: "ENOSYS", ENOTEMPTY: "ENOTEMPTY", ELOOP: "ELOOP", EOPNOTSUPP: "EOPNOTSUPP",
    ]

    public static func describe(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        if let name = names[code] { return "\(text) (\(name))" }
        return "\(text) (errno \(code))"
    }
}

/// Retries a call that failed with EINTR; every blocking call in isorun goes through here.
@inlinable
public func retryingOnInterrupt<T: BinaryInteger>(_ body: () -> T) -> T {
    while true {
        let result = body()
        if result >= 0 || errno != EINTR { return result }
    }
}
