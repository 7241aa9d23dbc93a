/// Turns `DecodingError`s into `SpecError`s whose path reads like the JSON
/// (`linux.namespaces[2].type`) and whose message says what was expected and found.

extension SpecError {
    /// Builds the user-facing error for a decoding failure. `document` supplies the
    /// value actually found at the failing path; without it the message just says
    /// what was expected.
    init(decoding error: DecodingError, document: JSONValue?, file: String) {
        switch error {
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let path = formatCodingPath(context.codingPath)
            var message = "expected \(expectedShape(type))"
            if path.isEmpty { message += " at the top level" }
            if let found = document?.value(at: context.codingPath) {
                message += " but found \(found.foundDescription)"
            }
            self.init(file: file, jsonPath: path, message: message)
        case .keyNotFound(let key, let context):
            self.init(file: file, jsonPath: formatCodingPath(context.codingPath),
                      message: "missing required field \(quoted(key.stringValue))")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                self.init(file: file, jsonPath: nil, message: "could not decode: \(context.debugDescription)")
            } else {
                self.init(file: file, jsonPath: formatCodingPath(context.codingPath), message: context.debugDescription)
            }
        @unknown default:
            self.init(file: file, jsonPath: nil, message: "could not decode: \(error)")
        }
    }
}

/// Formats a coding path as `a.b[3].c`. Array positions are recognised by the
/// `Index N` naming both `JSONDecoder` and `ArrayIndexKey` use, so that map keys that
/// happen to be numeric stay keys. Keys that are not identifiers (sysctl names,
/// annotation keys) are written as `sysctl["net.ipv4.ip_forward"]`.
func formatCodingPath(_ codingPath: [any CodingKey]) -> String {
    var result = ""
    for key in codingPath {
        if let index = key.intValue, key.stringValue == "Index \(index)" {
            result += "[\(index)]"
        } else if isIdentifier(key.stringValue) {
            result += result.isEmpty ? key.stringValue : ".\(key.stringValue)"
        } else {
            var escaped = ""
            for character in key.stringValue {
                if character == "\"" || character == "\\" { escaped.append("\\") }
                escaped.append(character)
            }
            result += "[\"\(escaped)\"]"
        }
    }
    return result
}

private func isIdentifier(_ text: String) -> Bool {
    guard let first = text.unicodeScalars.first, first == "_" || first.properties.isAlphabetic else { return false }
    return text.unicodeScalars.allSatisfy { $0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0) }
}

/// Lets the formatter see an array's element type through `Any.Type`.
private protocol ArrayShape { static var elementType: Any.Type { get } }
extension Array: ArrayShape { fileprivate static var elementType: Any.Type { Element.self } }

/// Lets the formatter see a dictionary's value type through `Any.Type`.
private protocol DictionaryShape { static var valueType: Any.Type { get } }
extension Dictionary: DictionaryShape { fileprivate static var valueType: Any.Type { Value.self } }

/// How a message names the JSON a Swift type needs, e.g. `an array of strings`.
/// `JSONDecoder` reports `Array<Any>`/`Dictionary<String, Any>`, which become plain
/// `an array`/`an object`.
func expectedShape(_ type: Any.Type) -> String {
    if type == String.self { return "a string" }
    if type == Bool.self { return "true or false" }
    if type == Double.self || type == Float.self { return "a number" }
    if let integer = type as? any FixedWidthInteger.Type { return integerShape(integer) }
    if let array = type as? any ArrayShape.Type {
        return array.elementType == Any.self ? "an array" : "an array of \(pluralShape(array.elementType))"
    }
    if let dictionary = type as? any DictionaryShape.Type {
        return dictionary.valueType == Any.self ? "an object" : "an object whose values are \(pluralShape(dictionary.valueType))"
    }
    if type == Any.self { return "a different kind of value" }
    return "an object"
}

private func pluralShape(_ type: Any.Type) -> String {
    if type == String.self { return "strings" }
    if type == Bool.self { return "true/false values" }
    if type == Double.self || type == Float.self { return "numbers" }
    if let integer = type as? any FixedWidthInteger.Type { return integer.isSigned ? "integers" : "non-negative integers" }
    if type is any ArrayShape.Type { return "arrays" }
    return "objects"
}

private func integerShape<I: FixedWidthInteger>(_ type: I.Type) -> String {
    switch (I.isSigned, I.bitWidth >= 64) {
    case (false, true): return "a non-negative integer"
    case (false, false): return "a non-negative integer no larger than \(I.max)"
    case (true, true): return "an integer"
    case (true, false): return "an integer between \(I.min) and \(I.max)"
    }
}
