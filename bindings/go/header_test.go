package dativo_test

import (
	"bytes"
	"os"
	"testing"
)

// A Go module cannot reach files outside its folder, so the package compiles against copies
// of the C headers. They must be the repository's headers byte for byte: a stale copy would
// make cgo call functions with old signatures. Regenerate the copies with
// `cp include/dativo.h include/dativo_arrow.h bindings/go/` (bindings/go/run-tests.sh does).
func TestHeaderCopiesMatchInclude(t *testing.T) {
	for _, name := range []string{"dativo.h", "dativo_arrow.h"} {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile("../../include/" + name)
			if os.IsNotExist(err) {
				t.Skip("../../include not found: not inside the dativo repository")
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("bindings/go/%s differs from include/%s: copy it over "+
					"(cp include/%s bindings/go/) and review the Go code against the change", name, name, name)
			}
		})
	}
}
