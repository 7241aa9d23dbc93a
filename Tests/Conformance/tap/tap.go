// Package tap writes Test Anything Protocol (TAP version 13) output.
//
// It is a small stand-in, written for isorun's conformance runner, for the
// TAP producer that the OCI runtime-tools validation suite imports under the
// path github.com/mndrix/tap-go (that library is not packaged in Debian).
// It provides only what the suite and its cmd/runtimetest call:
//
//	New, Header, Ok, Pass, Fail, Skip, Diagnostic, Diagnosticf, YAML,
//	AutoPlan, Count, Todo and the TODO flag.
//
// The output format follows the TAP 13 text: a version line, an optional
// plan "1..N", one "ok N - desc" / "not ok N - desc" line per assertion,
// "# ..." comment lines, and indented "---"/"..." YAML blocks. YAML blocks
// are written as JSON, which is valid YAML 1.2.
package tap

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// T is one TAP stream. Assertions are numbered from 1 in the order written.
type T struct {
	// Writer receives the stream; New sets it to os.Stdout.
	Writer io.Writer
	// TODO marks the following assertions as "# TODO" while it is true.
	TODO bool

	written int // assertions written so far
	counter *T  // when set (a Todo view), the stream that numbers assertions
}

// numbering returns the stream whose counter numbers this one's assertions.
func (t *T) numbering() *T {
	if t.counter != nil {
		return t.counter
	}
	return t
}

// Todo returns a view of the same stream whose assertions are marked
// "# TODO" (expected to fail: a TAP reader does not count them as failures).
func (t *T) Todo() *T {
	return &T{Writer: t.Writer, TODO: true, counter: t.numbering()}
}

// New returns a stream that writes to standard output.
func New() *T {
	return &T{Writer: os.Stdout}
}

func (t *T) out(format string, args ...interface{}) {
	fmt.Fprintf(t.Writer, format, args...)
}

// Header writes the version line and, when planned > 0, the plan line.
// A caller that does not know its count passes 0 and calls AutoPlan last.
func (t *T) Header(planned int) {
	t.out("TAP version 13\n")
	if planned > 0 {
		t.out("1..%d\n", planned)
	}
}

// oneLine keeps a description on its line: TAP descriptions cannot span
// lines, and a '#' would start a directive.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "#", `\#`)
}

// Ok records one assertion, passed when pass is true.
func (t *T) Ok(pass bool, description string) {
	n := t.numbering()
	n.written++
	status := "ok"
	if !pass {
		status = "not ok"
	}
	line := fmt.Sprintf("%s %d", status, n.written)
	if description != "" {
		line += " - " + oneLine(description)
	}
	if t.TODO {
		line += " # TODO"
	}
	t.out("%s\n", line)
}

// Pass records a passed assertion.
func (t *T) Pass(description string) { t.Ok(true, description) }

// Fail records a failed assertion.
func (t *T) Fail(description string) { t.Ok(false, description) }

// Skip records count assertions as skipped, each with the given reason.
func (t *T) Skip(count int, reason string) {
	n := t.numbering()
	for i := 0; i < count; i++ {
		n.written++
		t.out("ok %d # SKIP %s\n", n.written, oneLine(reason))
	}
}

// Count returns how many assertions have been written.
func (t *T) Count() int { return t.numbering().written }

// Diagnostic writes a message as comment lines, one "# " per line.
func (t *T) Diagnostic(message string) {
	for _, l := range strings.Split(strings.TrimRight(message, "\n"), "\n") {
		t.out("# %s\n", l)
	}
}

// Diagnosticf is Diagnostic with fmt.Sprintf formatting.
func (t *T) Diagnosticf(format string, args ...interface{}) {
	t.Diagnostic(fmt.Sprintf(format, args...))
}

// YAML writes v as a YAML block attached to the previous assertion.
func (t *T) YAML(v interface{}) error {
	body, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		return err
	}
	t.out("  ---\n  %s\n  ...\n", body)
	return nil
}

// AutoPlan writes the plan line for the assertions written so far; it
// belongs at the end of a stream whose Header was given 0.
func (t *T) AutoPlan() {
	t.out("1..%d\n", t.numbering().written)
}
