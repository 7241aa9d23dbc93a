import Glibc

/// A horizontal bar chart as standalone SVG: one bar per series at its median, a
/// whisker from p10-ish (min) to p90, and the value printed at the end of the bar.
///
/// Horizontal because the labels (command lines, modes) are long; a logarithmic
/// axis on request because a VM boot and a process start differ by 100×.
public struct BarChart: Sendable {
    public struct Bar: Sendable, Equatable {
        public var label: String
        public var value: Double
        public var low: Double?
        public var high: Double?
        public init(label: String, value: Double, low: Double? = nil, high: Double? = nil) {
            self.label = label
            self.value = value
            self.low = low
            self.high = high
        }
    }

    public var title: String
    public var unit: String
    public var bars: [Bar]
    public var logarithmic: Bool
    /// Explain the whiskers under the axis (only when bars have them).
    public var whiskerNote: Bool

    public init(title: String, unit: String, bars: [Bar], logarithmic: Bool = false, whiskerNote: Bool = true) {
        self.title = title
        self.unit = unit
        self.bars = bars
        self.logarithmic = logarithmic
        self.whiskerNote = whiskerNote
    }

    static let labelWidth = 230.0, plotWidth = 460.0, rowHeight = 28.0, top = 44.0

    public var svg: String {
        let height = Self.top + Double(bars.count) * Self.rowHeight + 36
        let width = Self.labelWidth + Self.plotWidth + 90
        let ceiling = bars.map { Swift.max($0.value, $0.high ?? 0) }.max() ?? 1
        let floor = logarithmic ? Swift.max(bars.map { Swift.min($0.value, $0.low ?? $0.value) }.min() ?? 0.1, 0.001) / 2 : 0
        func x(_ value: Double) -> Double {
            let fraction: Double
            if logarithmic {
                fraction = (log10(Swift.max(value, floor)) - log10(floor)) / Swift.max(log10(ceiling) - log10(floor), 1e-9)
            } else {
                fraction = value / Swift.max(ceiling, 1e-9)
            }
            return Self.labelWidth + Swift.max(0, Swift.min(1, fraction)) * Self.plotWidth
        }
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="13">
        <rect width="100%" height="100%" fill="white"/>
        <text x="12" y="24" font-size="16" font-weight="bold">\(escape(title))</text>

        """
        for (index, bar) in bars.enumerated() {
            let y = Self.top + Double(index) * Self.rowHeight
            let end = x(bar.value)
            out += "<text x=\"\(Int(Self.labelWidth - 8))\" y=\"\(format(y + 17))\" text-anchor=\"end\">\(escape(bar.label))</text>\n"
            out += "<rect x=\"\(Int(Self.labelWidth))\" y=\"\(format(y + 5))\" width=\"\(format(Swift.max(end - Self.labelWidth, 1)))\" height=\"16\" fill=\"\(Self.palette[index % Self.palette.count])\"/>\n"
            if let low = bar.low, let high = bar.high {
                let (a, b) = (x(low), x(high))
                out += "<line x1=\"\(format(a))\" y1=\"\(format(y + 13))\" x2=\"\(format(b))\" y2=\"\(format(y + 13))\" stroke=\"black\"/>\n"
                for edge in [a, b] {
                    out += "<line x1=\"\(format(edge))\" y1=\"\(format(y + 8))\" x2=\"\(format(edge))\" y2=\"\(format(y + 18))\" stroke=\"black\"/>\n"
                }
            }
            let labelX = Swift.max(end, bar.high.map(x) ?? end) + 6
            out += "<text x=\"\(format(labelX))\" y=\"\(format(y + 17))\">\(Self.number(bar.value)) \(escape(unit))</text>\n"
        }
        let axisY = Self.top + Double(bars.count) * Self.rowHeight + 8
        out += "<line x1=\"\(Int(Self.labelWidth))\" y1=\"\(format(axisY))\" x2=\"\(Int(Self.labelWidth + Self.plotWidth))\" y2=\"\(format(axisY))\" stroke=\"#888\"/>\n"
        let note = [logarithmic ? "log scale" : nil, whiskerNote ? "bar: median, whisker: min to p90" : nil].compactMap { $0 }
        out += "<text x=\"\(Int(Self.labelWidth))\" y=\"\(format(axisY + 18))\" fill=\"#555\">\(note.joined(separator: "; "))</text>\n"
        out += "</svg>\n"
        return out
    }

    static let palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"]

    static func number(_ value: Double) -> String {
        if value >= 100 { return String(Int(value.rounded())) }
        if value >= 10 { return format(value, decimals: 1) }
        return format(value, decimals: 2)
    }

    private func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }
}

/// Fixed-point text without Foundation's formatters.
func format(_ value: Double, decimals: Int = 1) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (value * scale).rounded()
    let whole = Int(scaled / scale)
    guard decimals > 0 else { return String(whole) }
    let fraction = Int(abs(scaled).truncatingRemainder(dividingBy: scale))
    let digits = String(fraction)
    let sign = scaled < 0 && whole == 0 ? "-" : ""
    return sign + String(whole) + "." + String(repeating: "0", count: decimals - digits.count) + digits
}
