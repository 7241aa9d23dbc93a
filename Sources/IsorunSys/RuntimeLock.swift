import Glibc

/// An flock(2)-held file: held for the lifetime of a supervisor, released by the
/// kernel when it dies, however it dies. A later run that can take the lock knows
/// the owner is gone and may clean up after it.
public final class RuntimeLock {
    public let path: String
    private let fd: Int32
    private var writtenLength = 0

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    /// Replaces the locked file's contents in place. A record that lives in the lock file
    /// itself needs no temporary file and rename on every change, and nobody reads it
    /// while the lock is held. Contents only grow, so a writer killed between the write
    /// and the truncate leaves a readable record.
    public func replaceContents(_ contents: String) throws(SystemError) {
        var text = contents
        let written = text.withUTF8 { bytes in retryingOnInterrupt { pwrite(fd, bytes.baseAddress, bytes.count, 0) } }
        guard written == text.utf8.count else { throw SystemError("write", path) }
        if written < writtenLength, ftruncate(fd, off_t(written)) != 0 { throw SystemError("ftruncate", path) }
        writtenLength = written
    }

    /// Creates (if needed) and locks `path`; nil if another live process holds it.
    public static func tryAcquire(_ path: String, create: Bool) throws(SystemError) -> RuntimeLock? {
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0)
        let fd = retryingOnInterrupt { open(path, flags, 0o600) }
        guard fd >= 0 else { throw SystemError("open", path) }
        if retryingOnInterrupt({ flock(fd, LOCK_EX | LOCK_NB) }) != 0 {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK { return nil }
            throw SystemError("flock", path, errno: code)
        }
        return RuntimeLock(path: path, fd: fd)
    }
}
