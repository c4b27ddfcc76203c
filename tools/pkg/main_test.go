package main

import (
	"os/exec"
	"testing"
)

func TestPackageVersion(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"v1.2.3", "1.2.3"},
		{"1.2.3", "1.2.3"},
		{"v1.2.3-dirty", "1.2.3+dirty"},
		{"v1.2.3-4-gabc123", "1.2.3+4.gabc123"},
		{"v1.2.3-4-gabc123-dirty", "1.2.3+4.gabc123.dirty"},
		{"v1.2.3-rc1", "1.2.3~rc1"},
		{"v1.2.3-rc1-2-gabc123", "1.2.3~rc1+2.gabc123"},
		{"76e830f", "0.0.0+g76e830f"},
		{"76e830f-dirty", "0.0.0+g76e830f.dirty"},
		{"dev", "0.0.0+dev"},
		{"feature/x-1", "0.0.0+feature.x.1"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := PackageVersion(tc.in); got != tc.want {
				t.Errorf("PackageVersion(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestPackageVersionOrder checks the order with dpkg itself, where present.
func TestPackageVersionOrder(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("no dpkg on this machine")
	}
	order := []string{"76e830f", "v1.2.3-rc1", "v1.2.3-rc1-2-gabc123", "v1.2.3", "v1.2.3-4-gabc123", "v1.2.4"}
	for i := 1; i < len(order); i++ {
		a, b := PackageVersion(order[i-1]), PackageVersion(order[i])
		if err := exec.Command(dpkg, "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg: %s (%s) is not before %s (%s)", a, order[i-1], b, order[i])
		}
	}
}
