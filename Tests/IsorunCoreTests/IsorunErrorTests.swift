import Testing
@testable import IsorunCore

struct IsorunErrorTests {
    /// The CLI prints the message as one line: each run of line breaks becomes one space,
    /// none is left at either end, and blanks within a line stay as they are.
    @Test(arguments: [
        ("plain", "plain"),
        ("\nfirst\n\nsecond\r\nthird\n", "first second third"),
        ("child said:\u{2028}no", "child said: no"),
        ("\n\n", ""),
        ("two  spaces\tand a tab", "two  spaces\tand a tab"),
    ])
    func messagesAreOneLine(message: String, expected: String) {
        #expect(IsorunError(message).message == expected)
    }
}
