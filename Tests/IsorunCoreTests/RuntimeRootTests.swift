import Glibc
import IsorunSys
import Testing
@testable import IsorunCore

struct RuntimeRootTests {
    /// A concurrent run's sweep must not remove a run that is being created (its record is
    /// still empty); CI once lost a VM run's state directory that way. Old, it is a leftover.
    @Test func aRunBeingCreatedIsNotSweptAwayButAnOldEmptyOneIs() throws {
        var template = Array("/tmp/isorun-root-XXXXXX".utf8CString)
        let path = String(cString: try #require(mkdtemp(&template)))
        defer { try? Files.removeTree(path) }
        let run = "\(path)/young"
        #expect(mkdir(run, 0o700) == 0)
        try Files.write("\(run)/\(RunState.recordFile)", "", create: true)
        let root = RuntimeRoot(path: path)

        #expect(!root.reclaimIfAbandoned(run))
        #expect(Files.exists(run))

        var times = [timeval(tv_sec: time(nil) - 60, tv_usec: 0), timeval(tv_sec: time(nil) - 60, tv_usec: 0)]
        #expect(utimes(run, &times) == 0)
        #expect(root.reclaimIfAbandoned(run))
        #expect(!Files.exists(run))
    }
}
