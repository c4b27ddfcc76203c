//go:build fb

package main

import (
	"log/slog"

	"bindpay/internal/boot"
	"bindpay/internal/display/fb"
)

// withFramebuffer: this build draws on the Linux framebuffer (-tags fb).
const withFramebuffer = true

var _ boot.Display = (*fb.Framebuffer)(nil)

// newFramebuffer builds the framebuffer display; nothing is opened yet.
func newFramebuffer(cfg Config, log *slog.Logger) (boot.Display, func(), error) {
	f, warn, err := fb.New(fb.Config{Device: cfg.Display.Framebuffer, Lang: cfg.Display.Lang, Font: cfg.Display.Font})
	if err != nil {
		return nil, nil, usageErr("display.framebuffer: %w", err)
	}
	if warn != nil {
		log.Warn("framebuffer display", "err", warn)
	}
	return f, func() { _ = f.Close() }, nil
}
