package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"bindpay/internal/display/fb"
)

// TestFramebufferBuild: config.go names fb's default device without linking
// fb, and a build without the framebuffer refuses the output at once (exit
// 2), saying how to get it.
func TestFramebufferBuild(t *testing.T) {
	assert.Equal(t, fb.DefaultDevice, defaultFramebuffer)
	if withFramebuffer {
		t.Skip("built with -tags fb")
	}
	code, _, stderr := runCmd(t, "--config", "/dev/null", "--state-dir", t.TempDir(), "--modem", "/dev/null",
		"--platform-url", "http://127.0.0.1:1", "--sms-sender", "10658000", "--display", "console,framebuffer")
	assert.Equal(t, exitUsage, code, "stderr %q", stderr)
	assert.Contains(t, stderr, "-tags fb")
}
