import Testing
@testable import IsorunSpec

@Suite("Writing JSON by hand")
struct JSONWriterTests {
    @Test func escapesWhatJSONRequiresAndReadsBack() throws {
        let awkward = "quote \" backslash \\ newline \n tab \t bell \u{7} é ✓"
        var writer = JSONWriter()
        writer.object { writer in
            writer.key(awkward)
            writer.string(awkward)
            writer.key("n")
            writer.integer(-42)
            writer.key("list")
            writer.strings(["a", "", awkward])
            writer.key("map")
            writer.stringMap(["b": "2", "a": "1"])
        }
        #expect(writer.text.contains(#""map":{"a":"1","b":"2"}"#))
        #expect(writer.text.contains(#"\u0007"#))
        let object = try JSONNode.document(Array(writer.text.utf8)).object()
        #expect(try object.required(awkward) { n throws(JSONFieldError) in try n.string() } == awkward)
        #expect(try object.required("n") { n throws(JSONFieldError) in try n.integer(Int.self) } == -42)
        #expect(try object.required("list") { n throws(JSONFieldError) in try n.strings() } == ["a", "", awkward])
        #expect(try object.required("map") { n throws(JSONFieldError) in try n.stringMap() } == ["a": "1", "b": "2"])
    }

    /// `isorun state` prints what runc prints: two-space indentation, `"key": value`,
    /// empty containers closed on the spot.
    @Test func prettyOutputIndentsNestedValues() {
        var writer = JSONWriter(pretty: true)
        writer.object { writer in
            writer.key("id"); writer.string("c1")
            writer.key("annotations"); writer.stringMap(["b": "2", "a": "1"])
            writer.key("empty"); writer.object { _ in }
            writer.key("list"); writer.strings(["x"])
            writer.key("pid"); writer.integer(7)
        }
        #expect(writer.text == """
            {
              "id": "c1",
              "annotations": {
                "a": "1",
                "b": "2"
              },
              "empty": {},
              "list": [
                "x"
              ],
              "pid": 7
            }
            """)
    }

    @Test func hooksRoundTrip() throws {
        let hooks = Hooks(
            createRuntime: [Hook(path: "/bin/a", args: ["a", "x y"], env: ["K=V"], timeout: 5)],
            poststop: [Hook(path: "/bin/b"), Hook(path: "/bin/c", args: [])]
        )
        var writer = JSONWriter()
        hooks.write(to: &writer)
        #expect(try Hooks(json: JSONNode.document(Array(writer.text.utf8))) == hooks)
    }
}
