package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeps: nothing of the operator side (internal/server, its SQL
// drivers and migrations) and no test helper reaches the agent binary.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "bindpay/cmd/agent").CombinedOutput()
	require.NoError(t, err, "go list -deps: %s", out)
	forbidden := []string{
		"bindpay/internal/server",
		"github.com/jackc/pgx",
		"modernc.org/sqlite",
		"github.com/pressly/goose",
		"testing",
		"net/http/httptest",
	}
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "bindpay/internal/boot", "the list is the agent's")
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("the agent binary imports %s (forbidden: %s)", dep, f)
			}
		}
	}
}
