package dativo_test

import (
	"testing"

	dativo "github.com/dativo/dativo/bindings/go"
)

func TestLoadedLibraryMatchesHeader(t *testing.T) {
	if err := dativo.CheckVersion(); err != nil {
		t.Fatal(err)
	}
	if got := dativo.Version(); got != dativo.HeaderVersion {
		t.Errorf("Version() = %q, header says %q", got, dativo.HeaderVersion)
	}
	if got := dativo.ABIVersion(); got != dativo.HeaderABIVersion {
		t.Errorf("ABIVersion() = %d, header says %d", got, dativo.HeaderABIVersion)
	}
}
