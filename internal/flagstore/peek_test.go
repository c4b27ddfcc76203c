package flagstore

import (
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPeekOnlyReads: status reports a corrupt record but never moves it.
func TestPeekOnlyReads(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			fsys, dir := b.make(t)
			s := New(fsys, dir, fixedClock)

			_, err := s.Peek(tid)
			assert.ErrorIs(t, err, ErrNotFound, "no record yet")

			require.NoError(t, s.Save(validRecord()))
			got, err := s.Peek(tid)
			require.NoError(t, err)
			assert.Equal(t, validRecord(), got)

			_, err = s.Peek("STB9999999999")
			assert.ErrorIs(t, err, ErrCorrupt, "another terminal's record is unusable")

			require.NoError(t, afero.WriteFile(fsys, s.Path(), []byte("{garbage"), 0o644))
			_, err = s.Peek(tid)
			assert.ErrorIs(t, err, ErrCorrupt)
			data, rerr := afero.ReadFile(fsys, s.Path())
			require.NoError(t, rerr, "Peek must leave the record in place")
			assert.Equal(t, "{garbage", string(data))
			entries, rerr := afero.ReadDir(fsys, dir)
			require.NoError(t, rerr)
			assert.Len(t, entries, 1, "nothing quarantined by Peek")
		})
	}
}
