package dativo_test

import (
	"errors"
	"fmt"
	"testing"

	dativo "github.com/dativo/dativo/bindings/go"
)

func TestErrorsMatchByStatusAndKeepTheMessage(t *testing.T) {
	err := fmt.Errorf("loading orders: %w", &dativo.Error{Status: dativo.StatusData, Message: "a.csv line 3"})
	if !errors.Is(err, dativo.ErrData) || errors.Is(err, dativo.ErrIO) {
		t.Errorf("errors.Is by status failed for %v", err)
	}
	var de *dativo.Error
	if !errors.As(err, &de) || de.Message != "a.csv line 3" || de.Status != dativo.StatusData {
		t.Errorf("errors.As gave %+v", de)
	}
	if got := de.Error(); got != "dativo: data error: a.csv line 3" {
		t.Errorf("Error() = %q", got)
	}
}

func TestStatusStringsComeFromTheLibrary(t *testing.T) {
	for s, want := range map[dativo.Status]string{
		dativo.StatusData: "data error",
		dativo.StatusIO:   "I/O error",
		dativo.Status(99): "unknown status",
	} {
		if got := s.String(); got != want {
			t.Errorf("%d: %q, want %q", int32(s), got, want)
		}
	}
}
