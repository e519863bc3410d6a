package dativo

// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"sync"
)

// HeaderVersion and HeaderABIVersion describe the copy of dativo.h this package was compiled
// with; Version and the ABI check describe the library loaded at run time.
const (
	HeaderVersion    = C.DATIVO_VERSION
	HeaderABIVersion = C.DATIVO_ABI_VERSION
)

// ErrABIMismatch is wrapped by the error CheckVersion returns when the loaded libdativo
// implements another C ABI than the header this package was built with.
var ErrABIMismatch = errors.New("dativo: libdativo ABI version mismatch")

// Version is the loaded library's version, e.g. "0.1.0".
func Version() string { return C.GoString(C.dativo_version()) }

// ABIVersion is the C ABI version the loaded library implements.
func ABIVersion() uint32 { return uint32(C.dativo_abi_version()) }

var abiCheck = sync.OnceValue(func() error {
	if got := ABIVersion(); got != HeaderABIVersion {
		return fmt.Errorf("%w: this package was built against dativo.h %s (ABI %d) but loaded "+
			"libdativo %s (ABI %d); rebuild against the headers of the installed library",
			ErrABIMismatch, HeaderVersion, HeaderABIVersion, Version(), got)
	}
	return nil
})

// CheckVersion returns an error wrapping ErrABIMismatch when the loaded library cannot be used
// with this package. ReadCSV, NewParquetWriter and RunJob check it too, so calling it is only
// needed to fail early (at start-up).
func CheckVersion() error { return abiCheck() }
