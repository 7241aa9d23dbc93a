extension RuntimeConfig {
    /// Reads `config.json` bytes without validating them. `file` is only used in
    /// error messages. Tests and `Bundle.load` share this so both report the same errors:
    /// a syntax error's line and column, or the exact field at fault and what was found.
    public static func decode(_ bytes: [UInt8], file: String) throws(SpecError) -> RuntimeConfig {
        try readSpecDocument(bytes, file: file, RuntimeConfig.init(json:))
    }
}

extension Resources {
    /// Reads a resources document on its own (`isorun update --resources FILE`).
    public static func decode(_ bytes: [UInt8], file: String) throws(SpecError) -> Resources {
        try readSpecDocument(bytes, file: file, Resources.init(json:))
    }
}

extension Process {
    /// Reads a process document on its own (`isorun exec --process FILE`), with the
    /// same precise errors as config.json.
    public static func decode(_ bytes: [UInt8], file: String) throws(SpecError) -> Process {
        try readSpecDocument(bytes, file: file, Process.init(json:))
    }
}
