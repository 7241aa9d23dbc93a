/// Small text helpers shared by the decoders and validators, so every message
/// quotes user values the same way and stays on one line.

/// Joins lines with spaces and collapses runs of whitespace, because `SpecError`
/// (and `IsorunError`, which keeps its blanks) must print as one line even when an
/// underlying error text spans several. A loop, not split and joined: the generic joined
/// looks its element type up at run time on first use (~12 % of a failing `state`).
public func singleLine(_ text: String, collapsingBlanks: Bool = true) -> String {
    var result = ""
    var pendingSpace = false
    for character in text {
        if character.isNewline || (collapsingBlanks && (character == "\t" || character == " ")) {
            pendingSpace = !result.isEmpty
            continue
        }
        if pendingSpace {
            result.append(" ")
            pendingSpace = false
        }
        result.append(character)
    }
    return result
}

/// Quotes a user-supplied value for a message, escaping control characters and
/// shortening very long values so one bad field cannot flood the terminal.
func quoted(_ value: String, limit: Int = 60) -> String {
    var body = ""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\n": body += "\\n"
        case "\r": body += "\\r"
        case "\t": body += "\\t"
        case "'": body += "\\'"
        case "\\": body += "\\\\"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                body += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                body.unicodeScalars.append(scalar)
            }
        }
    }
    if body.count > limit {
        body = String(body.prefix(limit)) + "…"
    }
    return "'\(body)'"
}

/// `a, b or c`, for listing the accepted values of a field.
func alternatives(_ values: [String]) -> String {
    guard let last = values.last else { return "" }
    guard values.count > 1 else { return last }
    return values.dropLast().joined(separator: ", ") + " or " + last
}
