//go:build !dativo_nopkgconfig

package dativo

// Linking: by default pkg-config finds libdativo through dativo.pc, which `cmake --install`
// writes (set PKG_CONFIG_PATH=<prefix>/lib/pkgconfig for a non-standard prefix). Build with
// -tags dativo_nopkgconfig to link plain -ldativo instead (link_nopkgconfig.go) and pass the
// library directory in CGO_LDFLAGS.

// #cgo pkg-config: dativo
import "C"
