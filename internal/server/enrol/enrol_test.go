package enrol

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/server/store"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, file, data string
		want             []store.Enrolment
		bad              Errors
	}{
		{"csv with header", "t.csv", "terminal_id,key_version,sim_msisdn\nSTB1,1,13800138001\nSTB2\n",
			[]store.Enrolment{{TerminalID: "STB1", KeyVersion: 1, SIMMSISDN: "+8613800138001"}, {TerminalID: "STB2", KeyVersion: 1}}, nil},
		{"csv without header, spaces", "t.csv", "STB1, 2, +8613800138001\n",
			[]store.Enrolment{{TerminalID: "STB1", KeyVersion: 2, SIMMSISDN: "+8613800138001"}}, nil},
		{"csv bad rows by line, header counts", "t.csv", "terminal_id,key_version\nSTB1\nbad id!\nSTB3,0\nSTB4,1,10658000\nstb1\nSTB6,1,,x\n", nil,
			Errors{
				{Line: 3, Reason: `terminal_id "bad id!": want 1 to 32 of A-Z a-z 0-9 _ -`},
				{Line: 4, Reason: `key_version "0": want a whole number from 1`},
				{Line: 5, Reason: `sim_msisdn "10658000": want the terminal SIM's mobile number`},
				{Line: 6, Reason: "terminal stb1 again (first on line 2)"},
				{Line: 7, Reason: "more than 3 columns (want terminal_id,key_version,sim_msisdn)"},
			}},
		{"csv quote error", "t.csv", "STB1\n\"STB2\n", nil, Errors{{Line: 2, Reason: "extraneous or missing \" in quoted-field"}}},
		{"json", "t.json", `[{"terminal_id":"STB1","key_version":3,"sim_msisdn":"13800138001"},{"terminal_id":"STB2"}]`,
			[]store.Enrolment{{TerminalID: "STB1", KeyVersion: 3, SIMMSISDN: "+8613800138001"}, {TerminalID: "STB2", KeyVersion: 1}}, nil},
		{"json bad rows by line", "t.json", "[\n {\"terminal_id\":\"STB1\"},\n {\"terminal_id\":\"\"},\n {\"terminal_id\":\"STB3\",\"key_version\":-1}\n]", nil,
			Errors{{Line: 3, Reason: `terminal_id "": want 1 to 32 of A-Z a-z 0-9 _ -`}, {Line: 4, Reason: `key_version "-1": want a whole number from 1`}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.file, []byte(c.data))
			if c.bad != nil {
				var bad Errors
				require.ErrorAs(t, err, &bad)
				assert.Equal(t, c.bad, bad)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
	_, err := Parse("t.json", []byte(`{"terminal_id":"x"}`))
	require.ErrorIs(t, err, ErrFormat)
}

func TestApply(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "p.db"), true)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	rows := []store.Enrolment{{TerminalID: "STB1", KeyVersion: 1}, {TerminalID: "STB2", KeyVersion: 1, SIMMSISDN: "+8614700000002"}}

	res, err := Apply(ctx, s, rows, "cli", now)
	require.NoError(t, err)
	assert.Equal(t, Result{New: 2}, res)
	res, err = Apply(ctx, s, rows, "cli", now)
	require.NoError(t, err)
	assert.Equal(t, Result{Unchanged: 2}, res, "idempotent")

	rows[0].KeyVersion = 2
	res, err = Apply(ctx, s, rows, "cli", now)
	require.NoError(t, err)
	assert.Equal(t, Result{Updated: 1, Unchanged: 1}, res)
	log, err := s.AuditLog(ctx, "STB2", 10)
	require.NoError(t, err)
	require.Len(t, log, 1)
	assert.Equal(t, "key version 1, SIM 147****0002", log[0].Detail)

	_, err = Apply(ctx, s, []store.Enrolment{{TerminalID: "STB9", KeyVersion: 1}, {TerminalID: "stb1", KeyVersion: 1}}, "cli", now)
	require.ErrorIs(t, err, store.ErrConflict)
	_, err = s.Terminal(ctx, "STB9")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing of a failed enrolment stays")
}
