package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// builder builds the programs under test the way `make cross` ships them:
// static (CGO_ENABLED=0), -trimpath, -ldflags "-s -w" plus the version
// stamp, no compression.
type builder struct {
	goCmd   string // the go command
	root    string // the module's directory
	ldflags string // -ldflags, e.g. "-s -w -X main.version=v1"
	out     string // where binaries go
}

// build builds pkg for goos/goarch (extra environment such as GOARM=7) into
// out/name and returns its path.
func (b builder) build(name, pkg, goos, goarch string, extra ...string) (string, error) {
	path := filepath.Join(b.out, name)
	cmd := exec.Command(b.goCmd, "build", "-trimpath", "-ldflags", b.ldflags, "-o", path, pkg)
	cmd.Dir = b.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	cmd.Env = append(cmd.Env, extra...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build %s for %s/%s %s: %w\n%s", pkg, goos, goarch, strings.Join(extra, " "), err, out)
	}
	logf("built %s for %s/%s %s in %v", pkg, goos, goarch, strings.Join(extra, " "), time.Since(start).Round(100*time.Millisecond))
	return path, nil
}

// target is one platform the agent ships for (Makefile `cross`).
type target struct {
	label  string
	goarch string
	env    []string
	limit  bool // DESIGN.md sets a size limit for this one
}

// shipTargets are the platforms make cross builds. DESIGN.md's size limit
// is on the linux/arm binary; the others are reported beside it.
var shipTargets = []target{
	{"linux/arm (GOARM=7)", "arm", []string{"GOARM=7"}, true},
	{"linux/arm64", "arm64", nil, false},
	{"linux/mipsle (softfloat)", "mipsle", []string{"GOMIPS=softfloat"}, false},
}

// binaryLimit is the size limit of DESIGN.md's "linux/arm binary ≤ 8 MB",
// taken in its stricter, decimal sense.
const binaryLimit = 8_000_000

// sizes builds the agent for each shipped platform and judges its size.
func sizes(b builder) ([]row, error) {
	var rows []row
	for _, t := range shipTargets {
		path, err := b.build("bindpay-agent_"+t.goarch, "./cmd/agent", "linux", t.goarch, t.env...)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if !t.limit {
			rows = append(rows, infoRow("binary size, "+t.label, thousands(fi.Size())+" B"))
			continue
		}
		ratio, v := atMost(float64(fi.Size()), binaryLimit)
		rows = append(rows, row{
			name:   "binary size, " + t.label,
			figure: thousands(fi.Size()) + " B",
			limit:  "≤ " + thousands(binaryLimit) + " B",
			ratio:  ratio, v: v,
		})
	}
	return rows, nil
}
