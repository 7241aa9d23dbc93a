#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension RuntimeConfig {
    /// Decodes `config.json` bytes without validating them. `file` is only used in
    /// error messages. Tests and `Bundle.load` share this so both report the same errors.
    public static func decode(_ bytes: [UInt8], file: String) throws(SpecError) -> RuntimeConfig {
        try decode(Data(bytes), file: file)
    }

    /// Decodes `config.json` data without validating it. `file` is only used in error messages.
    ///
    /// Valid files take the fast path through `JSONDecoder`. When it fails, the bytes
    /// are read again by `JSONReader` and `JSONValueDecoder` to find the position of a
    /// syntax error or the exact field and value at fault, which `JSONDecoder` does
    /// not report on Linux.
    public static func decode(_ data: Data, file: String) throws(SpecError) -> RuntimeConfig {
        try SpecDocument.decode(RuntimeConfig.self, from: data, file: file)
    }
}

extension Resources {
    /// Decodes a resources document on its own (`isorun update --resources FILE`).
    public static func decode(_ bytes: [UInt8], file: String) throws(SpecError) -> Resources {
        try SpecDocument.decode(Resources.self, from: Data(bytes), file: file)
    }
}

extension Process {
    /// Decodes a process document on its own (`isorun exec --process FILE`), with the
    /// same precise errors as config.json.
    public static func decode(_ bytes: [UInt8], file: String) throws(SpecError) -> Process {
        try SpecDocument.decode(Process.self, from: Data(bytes), file: file)
    }
}

/// Decoding of spec documents: the fast `JSONDecoder`, and on failure a second reading
/// that names the exact field at fault.
enum SpecDocument {
    static func decode<Document: Decodable>(_ type: Document.Type, from data: Data, file: String) throws(SpecError) -> Document {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw explain(error, type: type, bytes: [UInt8](data), file: file)
        }
    }

    /// The most precise `SpecError` for a failed decode.
    static func explain<Document: Decodable>(_ original: any Error, type: Document.Type, bytes: [UInt8], file: String) -> SpecError {
        var reader = JSONReader(bytes)
        let document: JSONValue
        do {
            document = try reader.readDocument()
        } catch {
            return SpecError(file: file, jsonPath: nil, message: "malformed JSON at \(error)")
        }
        do {
            _ = try JSONValueDecoder.decode(type, from: document, at: [])
        } catch let precise as DecodingError {
            return SpecError(decoding: precise, document: document, file: file)
        } catch {
            return SpecError(file: file, jsonPath: nil, message: "could not decode: \(error)")
        }
        // The diagnostic decoder accepted what JSONDecoder rejected; report the original.
        if let decodingError = original as? DecodingError {
            return SpecError(decoding: decodingError, document: document, file: file)
        }
        return SpecError(file: file, jsonPath: nil, message: "could not decode: \(original)")
    }
}
