//go:build !fb

package main

import (
	"errors"
	"log/slog"

	"bindpay/internal/boot"
)

// The framebuffer display (internal/display/fb: fonts, a TrueType
// rasteriser, the Go font) is left out of the common binary, as DESIGN.md
// asks of heavy optional parts: it is 590 kB of the mipsle binary, and its
// packages' start-up work made every run, bound or not, slower and larger
// (make bench). `go build -tags fb` puts it in; validate rejects the output
// in a build without it.

// withFramebuffer: this build cannot draw on the framebuffer.
const withFramebuffer = false

func newFramebuffer(Config, *slog.Logger) (boot.Display, func(), error) {
	return nil, nil, errors.New("display output framebuffer: not in this build (-tags fb)")
}
