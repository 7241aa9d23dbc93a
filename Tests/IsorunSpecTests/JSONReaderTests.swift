import Testing
@testable import IsorunSpec

/// The diagnostic reader only runs on bad input, so these check that it reads
/// valid JSON the way `JSONDecoder` does and never crashes on hostile input.
@Suite("Diagnostic JSON reader")
struct JSONReaderTests {
    private func read(_ text: String) throws -> JSONValue {
        var reader = JSONReader(Array(text.utf8))
        return try reader.readDocument()
    }

    @Test func readsEscapesAndSurrogatePairs() throws {
        let value = try read(#"{"s": "a\"b\\c\/d\n\u00e9\ud83d\ude00"}"#)
        #expect(value.member("s") == .string("a\"b\\c/d\né😀"))
    }

    @Test func keepsNumberTextAndFirstOfDuplicateKeys() throws {
        let value = try read(#"{"n": -12.5e3, "n": 1, "list": [true, false, null]}"#)
        #expect(value.member("n") == .number("-12.5e3"))
        #expect(value.member("list") == .array([.bool(true), .bool(false), .null]))
    }

    @Test func skipsAByteOrderMark() throws {
        var reader = JSONReader([0xEF, 0xBB, 0xBF] + Array("{}".utf8))
        #expect(try reader.readDocument() == .object([]))
    }

    @Test func deepNestingFailsCleanly() throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let error = try #require(specError { _ = try decode(deep) })
        #expect(error.jsonPath == nil)
        #expect(!error.description.contains("\n"))
    }

    @Test func columnsCountCharactersNotBytes() throws {
        let error = try #require(specError { _ = try decode("{\"é\": x}") })
        #expect(error.message.hasPrefix("malformed JSON at line 1, column 7:"))
    }
}
