import Glibc
import Testing

/// A fresh directory `/tmp/isorun-<name>-XXXXXX` for one test, which removes it itself.
func scratchDirectory(_ name: String) throws -> String {
    var template = Array("/tmp/isorun-\(name)-XXXXXX".utf8CString)
    return String(cString: try #require(mkdtemp(&template)))
}
