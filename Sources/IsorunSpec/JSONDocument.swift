/// A parsed JSON document, which spec types are read from (`JSONFields.swift`).
///
/// Keeping our own tree lets a message say where a problem is and what value was
/// actually found there, which Foundation's `JSONDecoder` does not report on Linux.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    /// The number's source text, so range checks can be exact for any integer width.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in source order; the first of duplicate keys wins.
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
