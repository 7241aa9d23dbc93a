/// A parsed JSON document, used only to explain why `JSONDecoder` rejected a file.
///
/// On Linux, `JSONDecoder` reports neither the position of a syntax error nor the
/// location of an out-of-range number ("The given data was not valid JSON." with no
/// coding path). Keeping our own tree lets us say where the problem is and what
/// value was actually found there.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    /// The number's source text, so range checks can be exact for any integer width.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in source order; the first of duplicate keys wins, as with `JSONDecoder`.
    case object([(key: String, value: JSONValue)])

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The member named `key` of an object.
    func member(_ key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The value a decoder's coding path points at, if the path exists in this document.
    func value(at path: [any CodingKey]) -> JSONValue? {
        var current = self
        for key in path {
            switch current {
            case .array(let elements):
                guard let index = key.intValue, elements.indices.contains(index) else { return nil }
                current = elements[index]
            case .object:
                guard let next = current.member(key.stringValue) else { return nil }
                current = next
            default:
                return nil
            }
        }
        return current
    }

    /// What a message should say was found, e.g. `the string 'sh'` or `number -1`.
    var foundDescription: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let text): return "number \(text)"
        case .string(let text): return "the string \(quoted(text))"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
