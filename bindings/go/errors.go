package dativo

// #include "shim.h"
import "C"

import "fmt"

// Status is the C API's DativoStatus: the kind of a failure. The values are the C values,
// which are stable and never reused.
type Status int32

// The statuses of dativo.h (README, "Rules every function follows").
const (
	StatusOK              Status = C.DATIVO_STATUS_OK
	StatusInvalidArgument Status = C.DATIVO_STATUS_INVALID_ARGUMENT
	StatusConfig          Status = C.DATIVO_STATUS_CONFIG
	StatusData            Status = C.DATIVO_STATUS_DATA
	StatusSchema          Status = C.DATIVO_STATUS_SCHEMA
	StatusIO              Status = C.DATIVO_STATUS_IO
	StatusArrow           Status = C.DATIVO_STATUS_ARROW
	StatusParquet         Status = C.DATIVO_STATUS_PARQUET
	StatusPlugin          Status = C.DATIVO_STATUS_PLUGIN
	StatusInternal        Status = C.DATIVO_STATUS_INTERNAL
)

// String is the library's short description: "data error", "I/O error", ...
func (s Status) String() string {
	return C.GoString(C.dativo_status_string(C.DativoStatus(s)))
}

// Error is every failure the library reports: its Status and the library's complete message
// (file, line, column and value where they apply).
//
// Test the kind with errors.Is against the sentinels below, which compares statuses only:
//
//	if errors.Is(err, dativo.ErrData) { ... }
//
// or take the details with errors.As:
//
//	var de *dativo.Error
//	if errors.As(err, &de) { log.Print(de.Status, de.Message) }
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "dativo: " + e.Status.String()
	}
	return "dativo: " + e.Status.String() + ": " + e.Message
}

// Is reports whether target is an *Error of the same Status, so that every data error
// matches ErrData whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status
}

// Sentinels for errors.Is, one per status.
var (
	ErrInvalidArgument = &Error{Status: StatusInvalidArgument}
	ErrConfig          = &Error{Status: StatusConfig}
	ErrData            = &Error{Status: StatusData}
	ErrSchema          = &Error{Status: StatusSchema}
	ErrIO              = &Error{Status: StatusIO}
	ErrArrow           = &Error{Status: StatusArrow}
	ErrParquet         = &Error{Status: StatusParquet}
	ErrPlugin          = &Error{Status: StatusPlugin}
	ErrInternal        = &Error{Status: StatusInternal}
)

// takeError turns a failed call's status and filled DativoError into an *Error and frees the
// C message. nil for StatusOK.
func takeError(status C.DativoStatus, cerr *C.DativoError) error {
	if status == C.DATIVO_STATUS_OK {
		return nil
	}
	msg := ""
	if cerr.message != nil {
		msg = C.GoString(cerr.message)
	}
	C.dativo_go_error_release(cerr)
	return &Error{Status: Status(status), Message: msg}
}

// misuse is an InvalidArgument error the Go side detects before calling the library (a
// closed writer, a path with a NUL byte), worded like the library's own.
func misuse(format string, args ...any) error {
	return &Error{Status: StatusInvalidArgument, Message: fmt.Sprintf(format, args...)}
}
