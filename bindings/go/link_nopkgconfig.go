//go:build dativo_nopkgconfig

package dativo

// Without pkg-config: the linker finds libdativo in its default directories, or wherever
// CGO_LDFLAGS points (CGO_LDFLAGS="-L/opt/dativo/lib -Wl,-rpath,/opt/dativo/lib").

// #cgo LDFLAGS: -ldativo
import "C"
