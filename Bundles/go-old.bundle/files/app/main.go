// The "old" application: written for Go 1.21 and built by the toolchain at /usr/local/go.
package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
)

func main() {
	versions := []string{"go1.21", "go1.20"}
	slices.Sort(versions) // the slices package arrived in Go 1.21
	// Like many real applications, this one is qualified on one toolchain only.
	if !strings.HasPrefix(runtime.Version(), "go1.21.") {
		fmt.Fprintf(os.Stderr, "old app: qualified on Go 1.21 only, built by %s\n", runtime.Version())
		os.Exit(1)
	}
	fmt.Printf("old app built by %s\n", runtime.Version())
}
