// Command pkg builds bindpay's .deb and .ipk packages with nfpm, from a spec
// in deploy/pkg: nfpm.yaml (bindpay-agent, the default) or platform-nfpm.yaml
// (bindpay-platform, -spec). It lives in its own module (tools/go.mod) so
// that the agent's go.mod does not carry nfpm's dependencies.
//
//	go -C tools build -o ../bin/pkg ./pkg
//	bin/pkg -packager deb -arch armhf -binary dist/bindpay-agent_linux_armv7 -version "$(git describe)" -out dist
//	bin/pkg -spec deploy/pkg/platform-nfpm.yaml -packager deb -arch amd64 -binary dist/bindpay-platform_linux_amd64 -version "$(git describe)" -out dist
//
// Run it from the repository root: the spec's paths are relative to it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb"
	_ "github.com/goreleaser/nfpm/v2/ipk"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pkg:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pkg", flag.ContinueOnError)
	spec := fs.String("spec", "deploy/pkg/nfpm.yaml", "nfpm spec: deploy/pkg/nfpm.yaml (the agent) or deploy/pkg/platform-nfpm.yaml (the platform)")
	packager := fs.String("packager", "", "deb or ipk")
	arch := fs.String("arch", "", "package architecture as the target names it: deb amd64, arm64, armhf, mipsel; ipk (OpenWrt) e.g. arm_cortex-a7, aarch64_generic, mipsel_24kc")
	binary := fs.String("binary", "", "the binary to package (the spec's ${BINARY})")
	version := fs.String("version", "", "version, as `git describe` prints it")
	out := fs.String("out", "dist", "output directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *packager == "" || *arch == "" || *binary == "" || *version == "" || fs.NArg() > 0 {
		return errors.New("usage: pkg -packager deb|ipk -arch ARCH -binary FILE -version VERSION [-out DIR] [-spec FILE]")
	}
	if _, err := os.Stat(*binary); err != nil {
		return fmt.Errorf("binary: %w", err)
	}
	vars := map[string]string{"ARCH": *arch, "BINARY": *binary, "VERSION": PackageVersion(*version)}
	var unknown []string
	cfg, err := nfpm.ParseFileWithEnvMapping(*spec, func(k string) string {
		v, ok := vars[k]
		// nfpm itself asks for NFPM_*PASSPHRASE (signing, unused here).
		if !ok && !strings.HasPrefix(k, "NFPM_") {
			unknown = append(unknown, k)
		}
		return v
	})
	if err != nil {
		return fmt.Errorf("%s: %w", *spec, err)
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%s: unknown variables %s (known: ARCH, BINARY, VERSION)", *spec, strings.Join(unknown, ", "))
	}
	info, err := cfg.Get(*packager)
	if err != nil {
		return fmt.Errorf("%s: %w", *spec, err)
	}
	info = nfpm.WithDefaults(info)
	// The architecture is given in the target's own terms: no translation.
	switch *packager {
	case "deb":
		info.Deb.Arch = *arch
	case "ipk":
		info.IPK.Arch = *arch
	default:
		return fmt.Errorf("packager %q: want deb or ipk", *packager)
	}
	p, err := nfpm.Get(*packager)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	target := filepath.Join(*out, p.ConventionalFileName(info))
	info.Target = target
	f, err := os.Create(target)
	if err != nil {
		return err
	}
	if err := p.Package(info, f); err != nil {
		f.Close()
		os.Remove(target)
		return fmt.Errorf("%s: %w", target, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, target)
	return nil
}

var (
	describeRe = regexp.MustCompile(`^v?([0-9][0-9A-Za-z.]*)(?:-(rc|alpha|beta|pre)([0-9A-Za-z.]*))?(?:-([0-9]+)-g([0-9a-f]+))?(-dirty)?$`)
	hashRe     = regexp.MustCompile(`^([0-9a-f]{7,40})(-dirty)?$`)
)

// PackageVersion turns `git describe --tags --always --dirty` output into a
// version dpkg and opkg order correctly:
//
//	v1.2.3              1.2.3
//	v1.2.3-4-gabc123    1.2.3+4.gabc123  (after 1.2.3)
//	v1.2.3-rc1          1.2.3~rc1        (before 1.2.3)
//	abc1234-dirty       0.0.0+gabc1234.dirty (no tag yet)
//
// Anything else becomes 0.0.0+ followed by its letters, digits and dots.
func PackageVersion(describe string) string {
	// An abbreviated commit hash (no tag yet) first: it may start with a digit.
	if m := hashRe.FindStringSubmatch(describe); m != nil {
		v := "0.0.0+g" + m[1]
		if m[2] != "" {
			v += ".dirty"
		}
		return v
	}
	if m := describeRe.FindStringSubmatch(describe); m != nil {
		v := m[1]
		if m[2] != "" {
			v += "~" + m[2] + m[3]
		}
		var meta []string
		if m[4] != "" {
			meta = append(meta, m[4], "g"+m[5])
		}
		if m[6] != "" {
			meta = append(meta, "dirty")
		}
		if len(meta) > 0 {
			v += "+" + strings.Join(meta, ".")
		}
		return v
	}
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '.':
			return r
		}
		return '.'
	}, describe)
	return "0.0.0+" + strings.Trim(clean, ".")
}
