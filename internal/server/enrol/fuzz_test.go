package enrol

import (
	"errors"
	"testing"
)

// FuzzParse: any file parses without panic, into either rows that are all
// valid or Errors whose lines are in the file; never both, never neither
// for a non-empty result.
func FuzzParse(f *testing.F) {
	f.Add("t.csv", "terminal_id,key_version,sim_msisdn\nSTB1,1,13800138001\nSTB2\n")
	f.Add("t.csv", "STB1\n\"STB2\n")
	f.Add("t.json", `[{"terminal_id":"STB1","key_version":3},{"terminal_id":""}]`)
	f.Add("t.json", `{"x":1}`)
	f.Fuzz(func(t *testing.T, name, data string) {
		rows, err := Parse(name, []byte(data))
		var bad Errors
		switch {
		case errors.As(err, &bad):
			if rows != nil || len(bad) == 0 {
				t.Fatalf("rows %v with errors %v", rows, bad)
			}
			for _, b := range bad {
				if b.Line < 1 {
					t.Fatalf("bad row at line %d", b.Line)
				}
			}
		case err == nil:
			for _, r := range rows {
				if !ValidTerminalID(r.TerminalID) || r.KeyVersion < 1 {
					t.Fatalf("invalid row accepted: %+v", r)
				}
			}
		}
	})
}
