/// Writes compact JSON for the documents isorun writes on every container's path (the
/// container record), without `JSONEncoder`: for the start-up cost that `JSONFields.swift`
/// describes. Keys are written in the order given; strings are escaped as RFC 8259 asks.
package struct JSONWriter {
    package private(set) var text = ""
    private var needsComma = false
    /// Two-space indentation and `"key": value`, as runc prints a container's state.
    private let pretty: Bool
    private var depth = 0
    private var afterKey = false

    package init(pretty: Bool = false) {
        self.pretty = pretty
    }

    /// Writes `{`, the members `body` adds, then `}`.
    package mutating func object(_ body: (inout JSONWriter) -> Void) {
        enclose("{", "}", body)
    }

    /// Writes `[`, the elements `body` adds, then `]`.
    package mutating func array(_ body: (inout JSONWriter) -> Void) {
        enclose("[", "]", body)
    }

    private mutating func enclose(_ open: String, _ close: String, _ body: (inout JSONWriter) -> Void) {
        separate()
        text += open
        needsComma = false
        depth += 1
        body(&self)
        depth -= 1
        if pretty && needsComma { newline() }  // a non-empty one closes on a line of its own
        text += close
        needsComma = true
    }

    /// Writes a member name; the next value written is its value.
    package mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        text += pretty ? ": " : ":"
        needsComma = false
        afterKey = true
    }

    package mutating func string(_ value: String) {
        separate()
        appendQuoted(value)
        needsComma = true
    }

    package mutating func integer<I: BinaryInteger>(_ value: I) {
        separate()
        text += String(value)
        needsComma = true
    }

    package mutating func strings(_ values: [String]) {
        array { writer in for value in values { writer.string(value) } }
    }

    /// An object of string members, keys sorted so the output is stable.
    package mutating func stringMap(_ map: [String: String]) {
        object { writer in
            for key in map.keys.sorted() {
                writer.key(key)
                writer.string(map[key]!)
            }
        }
    }

    /// Before a key or value: the comma after its predecessor, and in pretty output the
    /// line it starts (a member's value stays on its key's line).
    private mutating func separate() {
        if needsComma { text += "," }
        if pretty && depth > 0 && !afterKey { newline() }
        afterKey = false
    }

    private mutating func newline() {
        text += "\n" + String(repeating: "  ", count: depth)
    }

    private mutating func appendQuoted(_ value: String) {
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{0}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}

extension Hooks {
    /// Writes the hooks as config.json spells them (read back by `init(json:)`).
    package func write(to writer: inout JSONWriter) {
        writer.object { writer in
            let lists: [(String, [Hook]?)] = [
                ("prestart", prestart), ("createRuntime", createRuntime), ("createContainer", createContainer),
                ("startContainer", startContainer), ("poststart", poststart), ("poststop", poststop),
            ]
            for (name, hooks) in lists {
                guard let hooks else { continue }
                writer.key(name)
                writer.array { writer in for hook in hooks { hook.write(to: &writer) } }
            }
        }
    }
}

extension Hook {
    package func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.key("path")
            writer.string(path)
            if let args {
                writer.key("args")
                writer.strings(args)
            }
            if let env {
                writer.key("env")
                writer.strings(env)
            }
            if let timeout {
                writer.key("timeout")
                writer.integer(timeout)
            }
        }
    }
}
