package modem

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/pdu")

// TestPDUGolden decodes the stored PDUs in the repository's testdata/pdu
// (one PDU per line, the parts of one message, as a modem lists them) and
// compares what the agent would see with the golden .txt beside each.
func TestPDUGolden(t *testing.T) {
	files, err := filepath.Glob("../../testdata/pdu/*.hex")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no PDUs in testdata/pdu")
	for _, hexFile := range files {
		name := strings.TrimSuffix(filepath.Base(hexFile), ".hex")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(hexFile)
			require.NoError(t, err)
			a := newAssembler()
			var got []string
			// Feed the parts last first: reassembly must not depend on order.
			lines := strings.Fields(string(data))
			for i := len(lines) - 1; i >= 0; i-- {
				for _, m := range a.add(stored{index: i + 1, stat: 0, pdu: lines[i]}, time.Time{}) {
					if m.Err != nil {
						got = append(got, fmt.Sprintf("slots %v: error: %v", m.Indexes, m.Err))
						continue
					}
					got = append(got, fmt.Sprintf("slots %v\nfrom: %s\ntime: %s\ntext: %s",
						m.Indexes, m.Sender, m.Time.UTC().Format("2006-01-02T15:04:05Z"), m.Text))
				}
			}
			assert.Empty(t, a.groups, "every part was used")
			out := strings.Join(got, "\n---\n") + "\n"
			golden := strings.TrimSuffix(hexFile, ".hex") + ".txt"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(out), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "missing golden file; run go test ./internal/modem -run TestPDUGolden -update")
			assert.Equal(t, string(want), out, "decoded %s differs from %s", hexFile, golden)
		})
	}
}
