package store_test

import (
	"testing"

	"bindpay/internal/server/store/storetest"
)

func TestPostgresConformance(t *testing.T) {
	storetest.RequirePostgres(t)
	storetest.Run(t, "postgres", storetest.PostgresURL)
}
