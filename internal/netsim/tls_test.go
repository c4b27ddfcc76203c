package netsim

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewTLSServesLoopbackTrustedByItsCA(t *testing.T) {
	tl, err := NewTLS(time.Now())
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	srv.TLS = tl.Config
	srv.StartTLS()
	t.Cleanup(srv.Close)

	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(tl.CAPEM))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := c.Get(srv.URL)
	require.NoError(t, err, "a client trusting the CA reaches %s", srv.URL)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)

	_, err = (&http.Client{}).Get(srv.URL)
	require.Error(t, err, "a client without the CA refuses the certificate")
}
