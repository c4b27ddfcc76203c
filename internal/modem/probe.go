package modem

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Report is what Probe found out about a modem, for `bindpay-agent doctor`.
// Each check has a value and, when it failed, a one-line Err saying what
// to do.
type Report struct {
	IMEI         Check `json:"imei"`
	IMSI         Check `json:"imsi"`
	ICCID        Check `json:"iccid"`
	SIM          Check `json:"sim"`
	Registration Check `json:"registration"`
	Signal       Check `json:"signal"`
	Storage      Check `json:"storage"`
	// Leftovers lists the slots that hold no message for the agent:
	// drafts (stored to be sent) and slots that cannot be read.
	Leftovers   Check `json:"leftovers"`
	Indications Check `json:"indications"`
}

// Check is one line of a Report.
type Check struct {
	Value string `json:"value,omitempty"`
	Err   string `json:"error,omitempty"`
	// Needed: binding cannot work while this check fails.
	Needed bool `json:"needed"`
}

// OK reports whether the check passed.
func (c Check) OK() bool { return c.Err == "" }

// Checks lists the report's checks in display order with their names.
func (r Report) Checks() []NamedCheck {
	return []NamedCheck{
		{"IMEI", r.IMEI}, {"IMSI", r.IMSI}, {"ICCID", r.ICCID}, {"SIM", r.SIM},
		{"registration", r.Registration}, {"signal", r.Signal}, {"storage", r.Storage},
		{"drafts and unreadable slots", r.Leftovers}, {"new-message indications", r.Indications},
	}
}

// NamedCheck is a Check with its name.
type NamedCheck struct {
	Name string
	Check
}

// Probe asks the modem on rw what doctor shows. It changes no setting the
// agent relies on and does not wait for a booting modem: it reports what
// the modem says now. The error is set only when the modem could not be
// talked to at all.
func Probe(ctx context.Context, rw io.ReadWriter, cfg SessionConfig) (Report, error) {
	s := NewSession(rw, cfg)
	defer s.Stop()
	if err := s.Init(ctx); err != nil {
		return Report{}, err
	}
	var r Report
	var fatal error // the modem stopped answering: the rest is not checked
	check := func(needed bool, f func() (string, error)) Check {
		c := Check{Needed: needed}
		if fatal != nil {
			c.Err = "not checked: " + fatal.Error()
			return c
		}
		v, err := f()
		c.Value = v
		if err != nil {
			c.Err = err.Error()
			if isSessionFatal(err) {
				fatal = err
			}
		}
		return c
	}
	r.IMEI = check(false, func() (string, error) { return s.IMEI(ctx) })
	r.IMSI = check(false, func() (string, error) { return s.digits(ctx, "+CIMI", "+CIMI:") })
	r.ICCID = check(false, func() (string, error) { return s.iccid(ctx) })
	r.SIM = check(true, func() (string, error) {
		info, err := s.command(ctx, "+CPIN?", s.timeout)
		switch {
		case isCMEError(err, "10"):
			return "", fmt.Errorf("no SIM inserted: insert the operator's SIM and restart the modem")
		case isCMEError(err, "14"):
			return "", fmt.Errorf("SIM busy: the modem is still starting; run doctor again in a minute")
		case err != nil:
			return "", fmt.Errorf("SIM state unknown (%w): is a SIM inserted?", err)
		}
		st := prefixed(info, "+CPIN:")
		if st != "READY" {
			return st, fmt.Errorf("SIM %s: %s", st, simAdvice(st))
		}
		return st, nil
	})
	r.Registration = check(true, func() (string, error) {
		st, err := s.Registration(ctx)
		if err != nil {
			return "", err
		}
		names := map[int]string{0: "not searching", 1: "home network", 2: "searching", 3: "registration denied", 4: "unknown", 5: "roaming"}
		v := fmt.Sprintf("%s (stat %d)", names[st], st)
		if st != 1 && st != 5 {
			return v, fmt.Errorf("not registered on the network (%s): check the antenna, the SIM and coverage", v)
		}
		return v, nil
	})
	r.Signal = check(false, func() (string, error) {
		info, err := s.command(ctx, "+CSQ", s.timeout)
		if err != nil {
			return "", err
		}
		rssi, _, _ := strings.Cut(prefixed(info, "+CSQ:"), ",")
		n, err := strconv.Atoi(strings.TrimSpace(rssi))
		switch {
		case err != nil:
			return "", fmt.Errorf("unexpected +CSQ reply %q", info)
		case n == 99:
			return "unknown (99)", fmt.Errorf("no signal: check the antenna")
		case n < 0 || n > 31:
			return "", fmt.Errorf("unexpected +CSQ value %d", n)
		}
		v := fmt.Sprintf("%d dBm (CSQ %d)", -113+2*n, n)
		if n < 5 {
			return v, fmt.Errorf("very weak signal %s: SMS may not arrive; move or change the antenna", v)
		}
		return v, nil
	})
	r.Storage = check(true, func() (string, error) {
		used, total, err := s.Storage(ctx)
		if err != nil {
			return "", err
		}
		v := fmt.Sprintf("%d of %d used", used, total)
		if total > 0 && used >= total {
			return v, fmt.Errorf("message storage full (%s): new SMS are dropped; the agent deletes what is not its own when it runs", v)
		}
		return v, nil
	})
	r.Leftovers = check(false, func() (string, error) {
		// PDU mode, as the agent sets it: a listing in text mode is refused.
		if _, err := s.command(ctx, "+CMGF=0", s.timeout); err != nil {
			return "", fmt.Errorf("storage not listed: PDU mode refused (%w)", err)
		}
		st, err := s.storage(ctx)
		if err != nil {
			return "", err
		}
		slots, bad, _, err := s.list(ctx)
		if err != nil {
			return "", err
		}
		var drafts, unread []int
		for _, sl := range slots {
			if !sl.received() && (sl.stat >= 0 || isSubmit(sl.pdu)) {
				drafts = append(drafts, sl.index)
			}
		}
		for _, b := range bad {
			unread = append(unread, b.index)
		}
		return leftovers(drafts, unread, st.used, st.total)
	})
	r.Indications = check(true, func() (string, error) {
		info, err := s.command(ctx, "+CNMI=?", s.timeout)
		if err != nil {
			return "", fmt.Errorf("AT+CNMI=? refused (%w): the agent will try 2,1,0,0,0 and 1,1,0,0,0", err)
		}
		ranges := prefixed(info, "+CNMI:")
		c := cnmiCandidates(ranges)
		if len(c) == 0 {
			return ranges, fmt.Errorf("the modem cannot announce stored SMS with +CMTI (supports %s)", ranges)
		}
		return "supported: AT+CNMI=" + c[0], nil
	})
	if fatal != nil && ctx.Err() != nil {
		return r, ctx.Err()
	}
	return r, nil
}

// digits returns the first all-digit value of a reply (IMSI, ICCID).
func (s *Session) digits(ctx context.Context, cmd, prefix string) (string, error) {
	info, err := s.command(ctx, cmd, s.timeout)
	if err != nil {
		return "", err
	}
	for _, l := range info {
		v := strings.Trim(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), prefix)), `"`)
		if len(v) >= 6 && strings.Trim(v, "0123456789ABCDEFabcdef") == "" {
			return v, nil
		}
	}
	return "", fmt.Errorf("AT%s: no value in reply %q", cmd, info)
}

// iccid reads the SIM's ICCID with the command the modem family knows.
func (s *Session) iccid(ctx context.Context) (string, error) {
	var err error
	for _, c := range []struct{ cmd, prefix string }{
		{"+CCID", "+CCID:"}, {"+QCCID", "+QCCID:"}, {"+ICCID", "+ICCID:"}, {"^ICCID?", "^ICCID:"},
	} {
		var v string
		if v, err = s.digits(ctx, c.cmd, c.prefix); err == nil || isSessionFatal(err) {
			return v, err
		}
	}
	return "", err
}

// leftovers is doctor's verdict on the slots that hold no message for the
// agent: drafts and unreadable slots take storage a confirmation needs.
func leftovers(drafts, unreadable []int, used, total int) (string, error) {
	if len(drafts) == 0 && len(unreadable) == 0 {
		return "none", nil
	}
	var parts []string
	if len(drafts) > 0 {
		parts = append(parts, fmt.Sprintf("%s %s drafts (stored to be sent)", slotWord(drafts), holdWord(drafts)))
	}
	if len(unreadable) > 0 {
		parts = append(parts, fmt.Sprintf("%s cannot be read", slotWord(unreadable)))
	}
	v := strings.Join(parts, "; ")
	when := "when storage is full"
	if total > 0 && used >= total {
		when = "now: storage is full"
	}
	return v, fmt.Errorf("%s: they take storage SMS need; the agent frees them %s (or delete them with AT+CMGD)", v, when)
}

func slotWord(slots []int) string {
	n := make([]string, len(slots))
	for i, s := range slots {
		n[i] = strconv.Itoa(s)
	}
	if len(slots) == 1 {
		return "slot " + n[0]
	}
	return "slots " + strings.Join(n, ", ")
}

func holdWord(slots []int) string {
	if len(slots) == 1 {
		return "holds"
	}
	return "hold"
}
