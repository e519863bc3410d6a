package dativo

// #include <stdlib.h>
import "C"

import (
	"strings"
	"unsafe"
)

// cString copies s into C memory; the caller frees it with freeCString. A NUL byte would
// silently cut the string short in C, so it is refused as misuse naming what.
func cString(what, s string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, misuse("%s %q contains a NUL byte", what, s)
	}
	return C.CString(s), nil
}

// cOptions is cString for an options text, with "" (the defaults) passed as NULL.
func cOptions(text string) (*C.char, error) {
	if text == "" {
		return nil, nil
	}
	return cString("options", text)
}

func freeCString(s *C.char) { C.free(unsafe.Pointer(s)) }

// cStrings copies every string; free the result with freeCStrings. The slice itself is Go
// memory holding only C pointers, so it may be passed to C (cgo pointer rules).
func cStrings(what string, ss []string) ([]*C.char, error) {
	out := make([]*C.char, 0, len(ss))
	for _, s := range ss {
		cs, err := cString(what, s)
		if err != nil {
			freeCStrings(out)
			return nil, err
		}
		out = append(out, cs)
	}
	return out, nil
}

func freeCStrings(ss []*C.char) {
	for _, s := range ss {
		freeCString(s)
	}
}
