package boot_test

// The order that makes a crash lose nothing: the record's Save has
// *returned* (it is durable) before the nonce is consumed and before the
// confirmation is deleted; when Save fails, neither happens. Consuming the
// nonce first would be as bad as deleting first: the confirmation kept in
// the modem would be judged a replay at the next start, and deleted.

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/boot"
	"bindpay/internal/flagstore"
)

// returningFlags logs "saved" or "save-failed" when Save returns (the fake
// store logs "save" when it is called).
type returningFlags struct {
	*fakeFlags
}

func (f returningFlags) Save(r flagstore.Record) error {
	err := f.fakeFlags.Save(r)
	kind := "saved"
	if err != nil {
		kind = "save-failed"
	}
	f.events.add(event{kind: kind, detail: r.Source})
	return err
}

// loggingLedger is a real ledger (on memory) whose writes are logged.
type loggingLedger struct {
	*flagstore.Ledger
	events *eventLog
}

func (l loggingLedger) ConsumeIssued(extra ...string) error {
	l.events.add(event{kind: "consume", detail: strings.Join(extra, ",")})
	return l.Ledger.ConsumeIssued(extra...)
}

// startWith is harness.start with another flag store.
func (h *harness) startWith(cfg boot.Config, flags boot.FlagStore) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	h.cancel = cancel
	h.done = make(chan runResult, 1)
	d := boot.Deps{
		Flags: flags, Ledger: h.ledger, Platform: h.plat, Inbox: h.inbox, Display: h.disp, Clock: h.clock,
		Log: slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	go func() {
		out, err := boot.Run(ctx, cfg, d)
		h.done <- runResult{out: out, err: err}
	}()
	h.t.Cleanup(func() {
		cancel()
		if h.res == nil {
			select {
			case r := <-h.done:
				h.res = &r
			case <-time.After(guard):
				h.t.Errorf("boot.Run did not return within %v of its context being cancelled", guard)
			}
		}
	})
}

// bindingPaths are the ways a confirmation leads to a Save.
var bindingPaths = []struct {
	name   string
	key    bool
	script []reply
	drive  func(h *harness)
	nonce  string   // the nonce the record carries
	conf   []string // IDs of the confirmations (to be deleted only after Save)
}{
	{
		name:   "signed confirmation while waiting, accepted offline",
		key:    true,
		script: []reply{notBound(tid, nonce)},
		drive: func(h *harness) {
			h.finishScan()
			h.await("platform")
			h.await("after")
			h.send(sms("mt", senderSeen, signed(termKey, tid, nonce)))
		},
		nonce: nonce,
		conf:  []string{"mt"},
	},
	{
		name:   "foreign SMS, then confirmation found by the scan, platform confirms",
		key:    true,
		script: []reply{boundAns(tid)},
		drive: func(h *harness) {
			h.send(sms("foreign", "95555", "【某银行】您尾号1234的账户支出100.00元。"))
			h.await("delete")
			h.send(sms("scan-1", senderSeen, signed(termKey, tid, unknownNonce)))
		},
		nonce: unknownNonce,
		conf:  []string{"scan-1"},
	},
	{
		name:   "two confirmations held while the platform is down, then bound",
		key:    true,
		script: []reply{failing(errUnreachable), failing(errUnreachable), failing(errUnreachable), boundAns(tid)},
		drive: func(h *harness) {
			h.finishScan()
			h.await("platform")
			h.send(sms("held-1", senderSeen, signed(termKey, tid, unknownNonce)))
			h.await("platform")
			h.send(sms("held-2", senderSeen, unsigned(tid, "")))
			h.await("platform")
			h.fire(h.await("after")) // the retry: the platform now says bound
		},
		conf: []string{"held-1", "held-2"},
	},
	{
		name:   "no key: the platform's word binds",
		script: []reply{notBound(tid, nonce), boundAns(tid)},
		drive: func(h *harness) {
			h.finishScan()
			h.await("platform")
			h.await("after")
			h.send(sms("mt", senderSeen, unsigned(tid, nonce)))
		},
		nonce: nonce,
		conf:  []string{"mt"},
	},
}

func TestRunSaveReturnsBeforeConsumeAndDelete(t *testing.T) {
	for _, p := range bindingPaths {
		t.Run(p.name, func(t *testing.T) {
			h := newHarness(t, p.script...)
			h.ledger = loggingLedger{newLedger(t), h.events}
			var key []byte
			if p.key {
				key = termKey
			}
			h.startWith(config(t, key), returningFlags{h.flags})
			p.drive(h)
			_, err := h.result()
			require.NoError(t, err)

			events := h.events.list("save", "saved", "consume", "delete")
			saved := slices.Index(events, "saved:"+h.flags.saved()[0].Source)
			require.GreaterOrEqual(t, saved, 0, "events %q: no Save returned", events)
			for i, e := range events {
				kind, detail, _ := strings.Cut(e, ":")
				switch {
				case kind == "consume" && i < saved:
					t.Errorf("events %q: nonce consumed at %d, before Save returned at %d", events, i, saved)
				case kind == "delete" && slices.Contains(p.conf, detail) && i < saved:
					t.Errorf("events %q: confirmation %s deleted at %d, before Save returned at %d", events, detail, i, saved)
				}
			}
			var deleted []string
			for _, id := range h.inbox.deleted() {
				if slices.Contains(p.conf, id) {
					deleted = append(deleted, id)
				}
			}
			assert.ElementsMatch(t, p.conf, deleted, "events %q: every confirmation deleted once bound", events)
			if p.nonce != "" {
				n, err := h.ledger.Nonces()
				require.NoError(t, err)
				assert.Contains(t, n.Consumed, p.nonce, "the record's nonce is used up")
			}
			t.Logf("order: %q", events)
		})
	}
}

func TestRunSaveFailsNothingConsumedOrDeleted(t *testing.T) {
	errSave := errors.New("write /var/lib/bindpay/binding.json.tmp-1: no space left on device")
	for _, p := range bindingPaths {
		t.Run(p.name, func(t *testing.T) {
			h := newHarness(t, p.script...)
			l := newLedger(t)
			require.NoError(t, l.Issue(nonce)) // issued before a restart
			h.ledger = loggingLedger{l, h.events}
			h.flags.saveErr = errSave
			var key []byte
			if p.key {
				key = termKey
			}
			h.startWith(config(t, key), returningFlags{h.flags})
			p.drive(h)
			h.await("save-failed")
			h.await("after") // the save is retried later; the flow stays up
			assert.Contains(t, h.logs.String(), errSave.Error(), "the failure is logged")
			assertCanceled(t, h)

			events := h.events.list("save", "saved", "save-failed", "consume", "delete")
			for _, e := range events {
				kind, detail, _ := strings.Cut(e, ":")
				assert.False(t, kind == "consume", "events %q: a nonce was consumed though Save failed", events)
				assert.False(t, kind == "delete" && slices.Contains(p.conf, detail), "events %q: confirmation %s deleted though Save failed", events, detail)
			}
			n, err := l.Nonces()
			require.NoError(t, err)
			assert.Empty(t, n.Consumed, "Save failed: no nonce may be used up, or the kept confirmation is a replay at the next start")
			assert.Contains(t, n.Issued, nonce)
		})
	}
}

// 4 (boot level): the state directory cannot be written — read-only, or
// full — with the real flag store. Run fails naming the path, the
// confirmation stays in the modem with its nonce unused, and once the
// directory is writable again the next start binds from it. (The end-to-end
// tests do the same with real mounts where the sandbox allows them.)
func TestRunStateDirFaults(t *testing.T) {
	const dir = "/var/lib/bindpay"
	tests := []struct {
		name string
		fs   func(base afero.Fs) afero.Fs
		want string
	}{
		{"read-only file system", func(base afero.Fs) afero.Fs { return afero.NewReadOnlyFs(base) }, "operation not permitted"},
		{"disk full", func(base afero.Fs) afero.Fs { return fullFs{base} }, "no space left on device"},
		{"state directory missing", func(base afero.Fs) afero.Fs {
			require.NoError(t, base.RemoveAll(dir))
			return base
		}, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := afero.NewMemMapFs()
			require.NoError(t, base.MkdirAll(dir, 0o755))
			ledger := flagstore.NewLedger(base, dir, nil)
			require.NoError(t, ledger.Issue(nonce))
			faulty := tt.fs(base)

			// The platform's word is needed only where the ledger is gone
			// with the directory.
			h := newHarness(t, boundAns(tid))
			h.ledger = flagstore.NewLedger(faulty, dir, nil)
			h.startWith(config(t, termKey), flagstore.New(faulty, dir, nil))
			m := sms("scan-1", senderSeen, signed(termKey, tid, nonce))
			h.send(m)
			h.await("after") // the start-up scan's wait
			h.await("after") // Save failed: retried later, the flow stays up
			rec := h.logRecords("bound, but the binding record cannot be saved; retrying (the confirmation stays in the modem): free or fix the state directory")
			require.Len(t, rec, 1, "input: %s; log %s", tt.name, h.logs.String())
			assert.Contains(t, rec[0]["err"], dir, "the error names the state directory or the record's path")
			assert.Contains(t, rec[0]["err"], tt.want)
			assert.Empty(t, h.inbox.deleted(), "the confirmation is kept")
			assertCanceled(t, h)
			n, _ := ledger.Nonces()
			assert.Empty(t, n.Consumed)

			// The operator fixes the state directory; the next start
			// finds the same SMS in the modem and binds.
			require.NoError(t, base.MkdirAll(dir, 0o755))
			h2 := newHarness(t, boundAns(tid))
			h2.ledger = flagstore.NewLedger(base, dir, nil)
			h2.startWith(config(t, termKey), flagstore.New(base, dir, nil))
			h2.send(m)
			out, err := h2.result()
			require.NoError(t, err)
			assert.Equal(t, masked, out.Record.MSISDN)
			assert.Equal(t, []string{"scan-1"}, h2.inbox.deleted())
			got, err := flagstore.New(base, dir, nil).Load(tid)
			require.NoError(t, err)
			assert.Equal(t, masked, got.MSISDN)
		})
	}
}

// fullFs is a file system with no space left: writes fail with ENOSPC.
type fullFs struct{ afero.Fs }

func (f fullFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	file, err := f.Fs.OpenFile(name, flag, perm)
	if err != nil || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return file, err
	}
	return fullFile{file}, nil
}

type fullFile struct{ afero.File }

func (f fullFile) Write(p []byte) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}
