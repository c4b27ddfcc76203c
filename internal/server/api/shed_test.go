package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/server/store"
)

// blockingStore holds Terminal until release is closed.
type blockingStore struct {
	store.Store
	entered chan struct{}
	release chan struct{}
}

func (b *blockingStore) Terminal(ctx context.Context, id string) (store.Terminal, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.Store.Terminal(ctx, id)
}

func TestOverCapacityIs429(t *testing.T) {
	f := newFixture(t, true)
	bs := &blockingStore{Store: f.st, entered: make(chan struct{}, 1), release: make(chan struct{})}
	h := New(Deps{Store: bs, MasterKey: vectorMaster, SMSFrom: "10658000", NonceTTL: time.Hour, AllowUnsigned: true,
		MaxInFlight: 1, Now: func() time.Time { return f.now }})
	first := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/terminals/STB1/binding", nil))
		first <- rec.Code
	}()
	<-bs.entered // the first query holds the only slot
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/terminals/STB1/binding", nil))
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "30", rec.Header().Get("Retry-After"))
	close(bs.release)
	require.Equal(t, http.StatusNotFound, <-first, "the first query is answered (not enrolled)")
}
