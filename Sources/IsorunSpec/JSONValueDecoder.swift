/// A `Decoder` over a `JSONValue` tree that fails with an exact coding path and the
/// exact type that was wanted (e.g. `Array<String>` rather than `Array<Any>`).
///
/// It runs only after `JSONDecoder` has rejected a file, to turn its terse errors
/// into precise ones; valid files never go through it, so a gap here can only make
/// a message vaguer, never accept or reject a config wrongly.
struct JSONValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    /// The type the caller asked for, reported if the value has the wrong shape.
    let expectedType: Any.Type
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw mismatch() }
        return KeyedDecodingContainer(KeyedReader<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw mismatch() }
        return UnkeyedReader(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueReader(value: value, codingPath: codingPath)
    }

    private func mismatch() -> DecodingError {
        .typeMismatch(expectedType, .init(codingPath: codingPath, debugDescription: "found \(value.foundDescription)"))
    }

    /// Decodes `value` as `T`, converting scalars here so that range and shape
    /// errors carry the path of the value itself.
    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, at path: [any CodingKey]) throws -> T {
        func mismatch() -> DecodingError {
            if case .null = value {
                return .valueNotFound(type, .init(codingPath: path, debugDescription: "found null"))
            }
            return .typeMismatch(type, .init(codingPath: path, debugDescription: "found \(value.foundDescription)"))
        }
        if type == String.self {
            guard case .string(let text) = value else { throw mismatch() }
            return text as! T
        }
        if type == Bool.self {
            guard case .bool(let flag) = value else { throw mismatch() }
            return flag as! T
        }
        if type == Double.self || type == Float.self {
            guard case .number(let text) = value, let number = Double(text) else { throw mismatch() }
            return (type == Float.self ? Float(number) as Any : number as Any) as! T
        }
        if let integerType = type as? any FixedWidthInteger.Type {
            guard case .number(let text) = value, let number = integer(text, as: integerType) else { throw mismatch() }
            return number as! T
        }
        return try T(from: JSONValueDecoder(value: value, codingPath: path, expectedType: type))
    }

    /// Integer from JSON number text; integral values in exponent or decimal form
    /// (`1e3`, `1.0`) are accepted like `JSONDecoder` accepts them.
    private static func integer<I: FixedWidthInteger>(_ text: String, as type: I.Type) -> I? {
        if let exact = I(text) { return exact }
        guard let number = Double(text), number.rounded() == number else { return nil }
        return I(exactly: number)
    }
}

/// An index in an array, for coding paths.
struct ArrayIndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }

    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { return nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct KeyedReader<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [(key: String, value: JSONValue)]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { members.compactMap { Key(stringValue: $0.key) } }

    func contains(_ key: Key) -> Bool { lookup(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let value = lookup(key) else { throw missing(key) }
        return value == .null
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        guard let value = lookup(key) else { throw missing(key) }
        return try JSONValueDecoder.decode(type, from: value, at: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try superDecoder(forKey: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try superDecoder(forKey: key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        JSONValueDecoder(value: .object(members), codingPath: codingPath, expectedType: Any.self)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        guard let value = lookup(key) else { throw missing(key) }
        return JSONValueDecoder(value: value, codingPath: codingPath + [key], expectedType: Any.self)
    }

    private func lookup(_ key: Key) -> JSONValue? {
        members.first { $0.key == key.stringValue }?.value
    }

    private func missing(_ key: Key) -> DecodingError {
        .keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing field \(key.stringValue)"))
    }
}

private struct UnkeyedReader: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(elements: [JSONValue], codingPath: [any CodingKey]) {
        self.elements = elements
        self.codingPath = codingPath
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { throw atEnd(JSONValue.self) }
        guard elements[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard !isAtEnd else { throw atEnd(type) }
        let value = try JSONValueDecoder.decode(type, from: elements[currentIndex], at: codingPath + [ArrayIndexKey(currentIndex)])
        currentIndex += 1
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try superDecoder().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try superDecoder().unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        guard !isAtEnd else { throw atEnd(Any.self) }
        let decoder = JSONValueDecoder(
            value: elements[currentIndex], codingPath: codingPath + [ArrayIndexKey(currentIndex)], expectedType: Any.self)
        currentIndex += 1
        return decoder
    }

    private func atEnd(_ type: Any.Type) -> DecodingError {
        .valueNotFound(type, .init(codingPath: codingPath + [ArrayIndexKey(currentIndex)], debugDescription: "array has only \(elements.count) elements"))
    }
}

private struct SingleValueReader: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { value == .null }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONValueDecoder.decode(type, from: value, at: codingPath)
    }
}
