package link

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// HTTP is an HTTP SMS gateway with Kannel's interface: each part is one
// sendsms GET, UCS2 (coding=2, text in UTF-8), with the concatenation
// header in udh when the message has several parts, and a dlr-url under
// DLRURLBase that carries our part id, Kannel's %d report type and the
// callback key.
type HTTP struct {
	SendSMSURL  string // http://kannel:13013/cgi-bin/sendsms
	Username    string
	Password    string
	DLRURLBase  string // how the gateway reaches us: http://platform:8080
	CallbackKey string
	Client      *http.Client
}

var _ Link = (*HTTP)(nil)

// dlrMask asks for delivered (1), failed (2) and SMSC rejected (16).
const dlrMask = "19"

// Send submits one part; 2xx ("0: Accepted for delivery", "3: Queued for
// later delivery") means accepted; a 4xx is a rejection (ErrRejected), and
// anything else an error worth a retry.
func (h *HTTP) Send(ctx context.Context, p Part) (Result, error) {
	u, err := url.Parse(h.SendSMSURL)
	if err != nil {
		return Result{}, fmt.Errorf("link http: sendsms_url: %w", err)
	}
	dlr := strings.TrimRight(h.DLRURLBase, "/") + "/v1/sms/dlr?" + url.Values{
		"part": {strconv.FormatInt(p.ID, 10)},
		"key":  {h.CallbackKey},
	}.Encode() + "&type=%d"
	q := u.Query()
	q.Set("username", h.Username)
	q.Set("password", h.Password)
	q.Set("from", p.From)
	q.Set("to", p.To)
	q.Set("text", p.Text)
	q.Set("coding", "2")
	q.Set("charset", "UTF-8")
	q.Set("dlr-mask", dlrMask)
	q.Set("dlr-url", dlr)
	if p.Concat.Total > 1 {
		q.Set("udh", string([]byte{5, 0, 3, p.Concat.Ref, byte(p.Concat.Total), byte(p.Concat.Seq)}))
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Result{}, fmt.Errorf("link http: %w", err)
	}
	c := h.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("link http: sendsms: %s", redact(err.Error(), h.Password))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	msg := strings.TrimSpace(string(body))
	switch {
	case resp.StatusCode/100 == 2:
		return Result{}, nil
	case resp.StatusCode/100 == 4:
		return Result{}, fmt.Errorf("link http: sendsms: %s: %.200s: %w", resp.Status, msg, ErrRejected)
	default:
		return Result{}, fmt.Errorf("link http: sendsms: %s: %.200s", resp.Status, msg)
	}
}

// redact hides the password in an error that quotes the URL.
func redact(s, password string) string {
	if password == "" {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, url.QueryEscape(password), "REDACTED"), password, "REDACTED")
}
