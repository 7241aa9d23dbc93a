extension Array where Element == String {
    /// The elements with `separator` between them. The standard library's
    /// `joined(separator:)` runs unspecialized here and looks its element type up on first
    /// use: a scan of every protocol conformance in isorun's static binary (~2 % of a
    /// sandbox start). A plain loop does not.
    public func joinedWithoutLookup(separator: String) -> String {
        var text = ""
        var first = true
        for element in self {
            if !first { text += separator }
            text += element
            first = false
        }
        return text
    }
}
