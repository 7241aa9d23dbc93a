import IsorunSys
import Testing

/// `Files.sibling`: where isorun looks for isorun-init and the bench for isorun-oci.
struct SiblingPathTests {
    @Test(arguments: [
        ("/usr/local/bin/isorun", "/usr/local/bin/isorun-oci"), ("/isorun", "/isorun-oci"),
        ("bin/isorun", "bin/isorun-oci"), ("a/b/", "a/b/isorun-oci"), ("isorun", "/isorun-oci"), ("", "/isorun-oci"),
    ])
    func replacesTheLastComponent(_ path: String, _ expected: String) {
        #expect(Files.sibling("isorun-oci", of: path) == expected)
    }
}
