/// Reading spec documents (config.json, a process or resources document, a container
/// record) field by field from a parsed `JSONValue` tree.
///
/// Why not `JSONDecoder` with synthesized `Decodable`: isorun is a short-lived process
/// started several times per container, and that path instantiates generic metadata and
/// scans the binary's protocol conformances at run time on every start — about 1.5 ms of
/// a 6 ms bare run, measured with perf. Reading by hand does the same work in tens of
/// microseconds and names the exact field at fault in the same pass.

/// One step of a path into a document: a member name or an array position.
package enum JSONPathStep: Sendable, Equatable {
    case key(String)
    case index(Int)
}

/// A field that is missing or has the wrong shape: where, and what is wrong.
package struct JSONFieldError: Error, Sendable, Equatable {
    package let path: [JSONPathStep]
    package let message: String

    package init(path: [JSONPathStep], message: String) {
        self.path = path
        self.message = message
    }

    /// The spec layer's error for this failure in `file`.
    package func specError(file: String) -> SpecError {
        SpecError(file: file, jsonPath: formatJSONPath(path), message: message)
    }
}

/// A JSON value and where it sits in its document.
package struct JSONNode {
    let value: JSONValue
    /// The path is kept as the parent's and one step, and joined only when asked for
    /// (an error, or an object or array whose members need it): most nodes read are
    /// strings and numbers, and a new array per field read was a good part of the
    /// time taken to read a config.
    private let parentPath: [JSONPathStep]
    private let step: JSONPathStep?

    init(_ value: JSONValue, path: [JSONPathStep]) {
        self.value = value
        self.parentPath = path
        self.step = nil
    }

    init(_ value: JSONValue, in parentPath: [JSONPathStep], at step: JSONPathStep) {
        self.value = value
        self.parentPath = parentPath
        self.step = step
    }

    var path: [JSONPathStep] { step.map { parentPath + [$0] } ?? parentPath }

    /// Parses a whole document; a syntax error names its line and column.
    package static func document(_ bytes: [UInt8]) throws(JSONFieldError) -> JSONNode {
        var reader = JSONReader(bytes)
        do {
            return JSONNode(try reader.readDocument(), path: [])
        } catch {
            throw JSONFieldError(path: [], message: "malformed JSON at \(error)")
        }
    }

    /// The error for a value of the wrong kind: `expected <shape> but found <value>`.
    package func mismatch(_ expected: String) -> JSONFieldError {
        let place = path.isEmpty ? " at the top level" : ""
        return JSONFieldError(path: path, message: "expected \(expected)\(place) but found \(value.foundDescription)")
    }

    /// An error about this value's content, e.g. a name that is not one of the valid ones.
    package func invalid(_ message: String) -> JSONFieldError {
        JSONFieldError(path: path, message: message)
    }

    package func object() throws(JSONFieldError) -> JSONObject {
        guard case .object(let members) = value else { throw mismatch("an object") }
        return JSONObject(members: members, path: path)
    }

    package func string() throws(JSONFieldError) -> String {
        guard case .string(let text) = value else { throw mismatch("a string") }
        return text
    }

    package func bool() throws(JSONFieldError) -> Bool {
        guard case .bool(let flag) = value else { throw mismatch("true or false") }
        return flag
    }

    /// An integer of type `I`; integral numbers written as `1e3` or `1.0` are accepted
    /// too, as Foundation's `JSONDecoder` accepts them.
    package func integer<I: FixedWidthInteger>(_ type: I.Type = I.self) throws(JSONFieldError) -> I {
        guard case .number(let text) = value else { throw mismatch(integerShape(I.self)) }
        if let exact = I(text) { return exact }
        guard let number = Double(text), number.rounded() == number, let integral = I(exactly: number) else {
            throw mismatch(integerShape(I.self))
        }
        return integral
    }

    /// An array whose elements `element` reads; `shape` names them in the plural for
    /// messages, e.g. `strings` or `objects`.
    package func array<T>(of shape: String, _ element: (JSONNode) throws(JSONFieldError) -> T) throws(JSONFieldError) -> [T] {
        guard case .array(let elements) = value else { throw mismatch("an array of \(shape)") }
        var result: [T] = []
        result.reserveCapacity(elements.count)
        let path = path
        for (index, item) in elements.enumerated() {
            result.append(try element(JSONNode(item, in: path, at: .index(index))))
        }
        return result
    }

    package func strings() throws(JSONFieldError) -> [String] {
        try array(of: "strings") { node throws(JSONFieldError) in try node.string() }
    }

    /// An array of objects, each read by `element`.
    package func objects<T>(_ element: (JSONNode) throws(JSONFieldError) -> T) throws(JSONFieldError) -> [T] {
        try array(of: "objects", element)
    }

    /// An object used as a map from names to objects, each read by `element` (timeOffsets).
    package func objectMap<T>(_ element: (JSONNode) throws(JSONFieldError) -> T) throws(JSONFieldError) -> [String: T] {
        guard case .object(let members) = value else { throw mismatch("an object whose values are objects") }
        var result: [String: T] = [:]
        let path = path
        for member in members {
            result[member.key] = try element(JSONNode(member.value, in: path, at: .key(member.key)))
        }
        return result
    }

    /// An object used as a map from names to strings (annotations, sysctl, unified).
    package func stringMap() throws(JSONFieldError) -> [String: String] {
        guard case .object(let members) = value else { throw mismatch("an object whose values are strings") }
        var result: [String: String] = [:]
        result.reserveCapacity(members.count)
        let path = path
        for member in members {
            result[member.key] = try JSONNode(member.value, in: path, at: .key(member.key)).string()
        }
        return result
    }
}

/// The members of a JSON object, read by name. Members the reader does not ask for
/// are ignored, as the runtime spec asks of runtimes.
package struct JSONObject {
    let members: [(key: String, value: JSONValue)]
    let path: [JSONPathStep]

    /// The member `key` read by `read`; nil when it is absent or null.
    package func optional<T>(_ key: String, _ read: (JSONNode) throws(JSONFieldError) -> T) throws(JSONFieldError) -> T? {
        guard let value = lookup(key), value != .null else { return nil }
        return try read(JSONNode(value, in: path, at: .key(key)))
    }

    /// The member `key` read by `read`; an error naming it when it is absent.
    package func required<T>(_ key: String, _ read: (JSONNode) throws(JSONFieldError) -> T) throws(JSONFieldError) -> T {
        guard let value = lookup(key) else {
            throw JSONFieldError(path: path, message: "missing required field \(quoted(key))")
        }
        return try read(JSONNode(value, in: path, at: .key(key)))
    }

    private func lookup(_ key: String) -> JSONValue? {
        for member in members where member.key == key { return member.value }
        return nil
    }
}

/// Readers of JSON's own kinds, to pass to `JSONObject.optional` and `required`:
/// `o.optional("hostname", JSONRead.string)`.
package enum JSONRead {
    package static func string(_ node: JSONNode) throws(JSONFieldError) -> String { try node.string() }
    package static func strings(_ node: JSONNode) throws(JSONFieldError) -> [String] { try node.strings() }
    package static func bool(_ node: JSONNode) throws(JSONFieldError) -> Bool { try node.bool() }
    package static func stringMap(_ node: JSONNode) throws(JSONFieldError) -> [String: String] { try node.stringMap() }

    package static func integer<I: FixedWidthInteger>(_ type: I.Type) -> (JSONNode) throws(JSONFieldError) -> I {
        { node throws(JSONFieldError) in try node.integer(type) }
    }

    /// An array of objects, each read by `element` (e.g. `Mount.init(json:)`).
    package static func objects<T>(_ element: @escaping (JSONNode) throws(JSONFieldError) -> T) -> (JSONNode) throws(JSONFieldError) -> [T] {
        { node throws(JSONFieldError) in try node.objects(element) }
    }

    package static func objectMap<T>(_ element: @escaping (JSONNode) throws(JSONFieldError) -> T) -> (JSONNode) throws(JSONFieldError) -> [String: T] {
        { node throws(JSONFieldError) in try node.objectMap(element) }
    }
}

/// Formats a path as `a.b[3].c`; names that are not identifiers (sysctl names,
/// annotation keys) are written as `sysctl["net.ipv4.ip_forward"]`.
func formatJSONPath(_ path: [JSONPathStep]) -> String {
    var result = ""
    for step in path {
        switch step {
        case .index(let index):
            result += "[\(index)]"
        case .key(let key) where isIdentifier(key):
            result += result.isEmpty ? key : ".\(key)"
        case .key(let key):
            var escaped = ""
            for character in key {
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

/// How a message names an integer type's range, e.g. `a non-negative integer no larger than 65535`.
private func integerShape<I: FixedWidthInteger>(_ type: I.Type) -> String {
    switch (I.isSigned, I.bitWidth >= 64) {
    case (false, true): return "a non-negative integer"
    case (false, false): return "a non-negative integer no larger than \(I.max)"
    case (true, true): return "an integer"
    case (true, false): return "an integer between \(I.min) and \(I.max)"
    }
}

/// Reads a whole spec document with `read`, turning any failure into a `SpecError` for `file`.
package func readSpecDocument<T>(_ bytes: [UInt8], file: String, _ read: (JSONNode) throws(JSONFieldError) -> T) throws(SpecError) -> T {
    do {
        return try read(try JSONNode.document(bytes))
    } catch {
        throw error.specError(file: file)
    }
}
