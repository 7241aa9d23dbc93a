/// A strict JSON (RFC 8259) reader that reports the line and column of the first
/// syntax error. Spec documents are a few kilobytes, so it favours clear messages
/// over raw speed; positions are only computed when there is an error to report.
struct JSONReader {
    /// A syntax error with a 1-based position; `description` is one line.
    struct SyntaxError: Error, CustomStringConvertible {
        let reason: String
        let line: Int
        let column: Int

        var description: String { "line \(line), column \(column): \(reason)" }
    }

    /// Deep enough for any real config; shallow enough that recursion cannot overflow the stack.
    private static let maximumDepth = 512

    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses the whole input as exactly one JSON value.
    mutating func readDocument() throws(SyntaxError) -> JSONValue {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }  // UTF-8 byte-order mark
        skipWhitespace()
        if index == bytes.count {
            throw error(bytes.isEmpty ? "the file is empty" : "the file contains only whitespace")
        }
        let value = try readValue(depth: 0)
        skipWhitespace()
        if index < bytes.count {
            throw error("unexpected \(describeCurrent()) after the end of the top-level value")
        }
        return value
    }

    // MARK: Values

    private mutating func readValue(depth: Int) throws(SyntaxError) -> JSONValue {
        guard depth < Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth) levels") }
        guard index < bytes.count else { throw error("unexpected end of file where a value was expected") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try readObject(depth: depth)
        case UInt8(ascii: "["): return try readArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"): try readLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try readLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try readLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try readNumber())
        case UInt8(ascii: "/"): throw error("comments are not allowed in JSON")
        case UInt8(ascii: "'"): throw error("strings must use double quotes, not single quotes")
        default: throw error("unexpected \(describeCurrent()) where a value was expected")
        }
    }

    private mutating func readObject(depth: Int) throws(SyntaxError) -> JSONValue {
        let start = index
        index += 1  // {
        var members: [(key: String, value: JSONValue)] = []
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return .object(members) }
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw unterminated("object", start: start) }
            guard bytes[index] == UInt8(ascii: "\"") else {
                if bytes[index] == UInt8(ascii: "}"), !members.isEmpty { throw error("trailing comma before '}'") }
                throw error("expected a field name in double quotes but found \(describeCurrent())")
            }
            let key = try readString()
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else {
                guard index < bytes.count else { throw unterminated("object", start: start) }
                throw error("expected ':' after field name \(quoted(key)) but found \(describeCurrent())")
            }
            skipWhitespace()
            let value = try readValue(depth: depth + 1)
            if !members.contains(where: { $0.key == key }) {
                members.append((key, value))
            }
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "}")) { return .object(members) }
            guard index < bytes.count else { throw unterminated("object", start: start) }
            throw error("expected ',' or '}' after the value of \(quoted(key)) but found \(describeCurrent())")
        }
    }

    private mutating func readArray(depth: Int) throws(SyntaxError) -> JSONValue {
        let start = index
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if consume(UInt8(ascii: "]")) { return .array(elements) }
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw unterminated("array", start: start) }
            if bytes[index] == UInt8(ascii: "]") { throw error("trailing comma before ']'") }
            elements.append(try readValue(depth: depth + 1))
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "]")) { return .array(elements) }
            guard index < bytes.count else { throw unterminated("array", start: start) }
            throw error("expected ',' or ']' after array element \(elements.count - 1) but found \(describeCurrent())")
        }
    }

    private mutating func readString() throws(SyntaxError) -> String {
        let start = index
        index += 1  // opening quote
        // Most strings have no escapes: decode them straight from the input.
        var end = index
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 {
            end += 1
        }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            defer { index = end + 1 }
            return String(decoding: bytes[index..<end], as: UTF8.self)
        }
        var utf8 = Array(bytes[index..<end])
        index = end
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                index += 1
                try readEscape(into: &utf8)
            case 0..<0x20:
                throw error("control character (byte 0x\(hex(byte))) inside a string; escape it, e.g. as \\n")
            default:
                utf8.append(byte)
                index += 1
            }
        }
        let (line, column) = position(of: start)
        throw SyntaxError(reason: "unterminated string", line: line, column: column)
    }

    private mutating func readEscape(into utf8: inout [UInt8]) throws(SyntaxError) {
        guard index < bytes.count else { throw error("unexpected end of file inside an escape sequence") }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(byte)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            var scalarValue = try readHex4()
            if (0xD800..<0xDC00).contains(scalarValue),
               bytes[index...].starts(with: [UInt8(ascii: "\\"), UInt8(ascii: "u")]) {
                index += 2
                let low = try readHex4()
                if (0xDC00..<0xE000).contains(low) {
                    scalarValue = 0x10000 + ((scalarValue - 0xD800) << 10) + (low - 0xDC00)
                }
            }
            let scalar = Unicode.Scalar(scalarValue) ?? "\u{FFFD}"
            utf8.append(contentsOf: Array(String(Character(scalar)).utf8))
        default:
            index -= 1
            throw error("invalid escape sequence '\\\(describeByte(byte, bare: true))' in a string")
        }
    }

    private mutating func readHex4() throws(SyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard index < bytes.count, let digit = hexDigitValue(bytes[index]) else {
                throw error("expected four hex digits after \\u")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private mutating func readNumber() throws(SyntaxError) -> String {
        let start = index
        _ = consume(UInt8(ascii: "-"))
        guard index < bytes.count, isDigit(bytes[index]) else { throw error("expected a digit in number") }
        if consume(UInt8(ascii: "0")) {
            if index < bytes.count, isDigit(bytes[index]) { throw error("numbers must not have leading zeros") }
        } else {
            skipDigits()
        }
        if consume(UInt8(ascii: ".")) {
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("expected a digit after the decimal point") }
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if !consume(UInt8(ascii: "+")) { _ = consume(UInt8(ascii: "-")) }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("expected a digit in the exponent") }
            skipDigits()
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private mutating func readLiteral(_ word: String) throws(SyntaxError) {
        let expected = Array(word.utf8)
        guard bytes[index...].starts(with: expected) else {
            throw error("unexpected \(describeCurrent()); did you mean \(word)?")
        }
        index += expected.count
    }

    // MARK: Scanning helpers

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private func hexDigitValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    // MARK: Errors

    private func error(_ reason: String) -> SyntaxError {
        let (line, column) = position(of: index)
        return SyntaxError(reason: reason, line: line, column: column)
    }

    /// `start` is the byte offset of the opening bracket; its line and column are only
    /// worked out here, on the error path.
    private func unterminated(_ kind: String, start: Int) -> SyntaxError {
        let (line, column) = position(of: start)
        return error("unexpected end of file inside the \(kind) that starts at line \(line), column \(column)")
    }

    /// 1-based line and column of a byte offset; columns count characters, not bytes.
    private func position(of offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in bytes[..<min(offset, bytes.count)] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {  // skip UTF-8 continuation bytes
                column += 1
            }
        }
        return (line, column)
    }

    private func describeCurrent() -> String {
        guard index < bytes.count else { return "end of file" }
        return describeByte(bytes[index], bare: false)
    }

    private func describeByte(_ byte: UInt8, bare: Bool) -> String {
        if (0x21..<0x7F).contains(byte) {
            let text = String(UnicodeScalar(byte))
            return bare ? text : "character '\(text)'"
        }
        return bare ? "\\x\(hex(byte))" : "byte 0x\(hex(byte))"
    }

    private func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return digits.count == 1 ? "0" + digits : digits
    }
}
