package dativo

// #include "shim.h"
import "C"

import (
	"runtime"
	"runtime/cgo"

	"github.com/apache/arrow-go/v18/arrow"
)

// The Parquet writer keeps the batches it is given after the call returns (encoder threads
// work on them), so by cgo's rules the Go memory they point to must be pinned until the
// library releases them. pinRecord pins every buffer of a record; unpinOnRelease ties the
// Unpin to the release of the exported C array. Pinning before export also lets arrow-go
// store the buffer pointers in C memory under GODEBUG=cgocheck=2 / GOEXPERIMENT=cgocheck2.
// Buffers in C memory (a malloc-based allocator) are not Go objects: Pin ignores them.

func pinRecord(p *runtime.Pinner, rec arrow.RecordBatch) {
	for _, col := range rec.Columns() {
		pinData(p, col.Data())
	}
}

func pinData(p *runtime.Pinner, d arrow.ArrayData) {
	for _, buf := range d.Buffers() {
		if buf != nil && buf.Len() > 0 {
			p.Pin(&buf.Bytes()[0])
		}
	}
	for _, child := range d.Children() {
		pinData(p, child)
	}
	// Dictionary() is a typed nil inside the interface for other types: ask the type first.
	if d.DataType().ID() == arrow.DICTIONARY {
		pinData(p, d.Dictionary())
	}
}

// unpinOnRelease makes the release of array (exported, not yet handed over) also unpin p.
// On failure (out of C memory) p is unpinned at once and false returned.
func unpinOnRelease(array *C.struct_ArrowArray, p *runtime.Pinner) bool {
	h := cgo.NewHandle(p)
	if C.dativo_go_array_on_release(array, C.uintptr_t(h)) != 0 {
		h.Delete()
		p.Unpin()
		return false
	}
	return true
}

// dativoGoUnpin runs when the library releases an array written by ParquetWriter.Write, on
// whichever thread it releases it (a library thread is fine for a cgo callback).
//
//export dativoGoUnpin
func dativoGoUnpin(h C.uintptr_t) {
	handle := cgo.Handle(h)
	handle.Value().(*runtime.Pinner).Unpin()
	handle.Delete()
}
