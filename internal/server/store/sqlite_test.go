package store_test

import (
	"path/filepath"
	"testing"

	"bindpay/internal/server/store/storetest"
)

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, "sqlite", func(t *testing.T) string {
		return "sqlite://" + filepath.Join(t.TempDir(), "platform.db")
	})
}
