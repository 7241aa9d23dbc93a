// The "new" application: needs Go 1.23 or later (range over an int and over a
// function iterator), so an older toolchain at /usr/local/go cannot build it.
package main

import (
	"fmt"
	"iter"
	"runtime"
)

func countdown(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range n {
			if !yield(n - i) {
				return
			}
		}
	}
}

func main() {
	total := 0
	for i := range countdown(3) {
		total += i
	}
	fmt.Printf("new app built by %s (sum %d)\n", runtime.Version(), total)
}
