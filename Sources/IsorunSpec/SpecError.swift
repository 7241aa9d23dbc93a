/// The one error type of the spec layer: which file, where in it, and what is wrong.
///
/// The CLI prints `description` as a single line and exits 125, so every message
/// is flattened to one line here, whatever produced it.
public struct SpecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `config.json` path, or the bundle directory when the problem is the directory itself.
    public let file: String
    /// Where in the document, e.g. `linux.namespaces[2].type`; nil when the problem is the whole file.
    public let jsonPath: String?
    /// What is wrong, phrased so the user can fix it. Always one line.
    public let message: String

    /// Creates an error; an empty `jsonPath` is stored as nil and newlines in `message` become spaces.
    public init(file: String, jsonPath: String?, message: String) {
        self.file = file
        self.jsonPath = (jsonPath?.isEmpty ?? true) ? nil : jsonPath
        self.message = singleLine(message)
    }

    /// `<file>: <jsonPath>: <message>`, or `<file>: <message>` when there is no path.
    public var description: String {
        if let jsonPath {
            return "\(file): \(jsonPath): \(message)"
        }
        return "\(file): \(message)"
    }
}
