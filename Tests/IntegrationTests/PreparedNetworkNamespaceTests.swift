import Glibc
import IsorunSys
import Testing

/// The network namespace made by a helper process, against the kernel.
@Suite(.enabled(if: getuid() == 0, "creating a network namespace needs root"))
struct PreparedNetworkNamespaceTests {
    func namespaceLink(_ path: String) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink(path, &buffer, buffer.count - 1)
        return count > 0 ? String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }

    @Test func isANewNetworkNamespaceAndTheCallerStaysInItsOwn() throws {
        let own = namespaceLink("/proc/self/ns/net")
        let prepared = try #require(PreparedNetworkNamespace())
        let helper = try #require(prepared.helper)
        let fd = try prepared.descriptor()
        let made = namespaceLink("/proc/self/fd/\(fd)")
        #expect(made.hasPrefix("net:["), "\(made)")
        #expect(made != own)
        // unshare() moved only the helper: this thread and the process are where they were.
        #expect(namespaceLink("/proc/self/ns/net") == own)
        #expect(namespaceLink("/proc/thread-self/ns/net") == own)
        #expect(helper != getpid())
        #expect(try prepared.descriptor() == fd, "asking again gives the same descriptor")
        prepared.close()
        // Other tests run in parallel and may get the number again, but not this namespace.
        #expect(namespaceLink("/proc/self/fd/\(fd)") != made, "close() gave up the descriptor")
        #expect(prepared.helper == nil)
        #expect(kill(helper, 0) == -1 && errno == ESRCH, "close() reaped the helper: not even a zombie is left")
    }
}
