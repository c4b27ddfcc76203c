// Package confirm is the BP1 confirmation protocol shared by the terminal
// agent (cmd/agent, internal/boot) and the network simulator
// (internal/netsim): the machine token the SMS platform puts in its
// confirmation SMS, the per-terminal keys that sign it, the signature on the
// agent's platform requests, and the sender allowlist that decides which SMS
// may confirm at all.
//
// A confirmation SMS is free text for people with the token anywhere in it:
//
//	【号码绑定支付】终端STB0012345678已开通，绑定号码138****8000。BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww
//
// [Find] locates and parses the token, [Verify] checks its signature against
// the terminal key ([LoadKey] reads the key file, [DeriveKey] is the
// platform-side derivation), and [Allowlist] checks the SMS sender after
// [NormalizeNumber]. The platform side builds tokens with [Sign] and checks
// requests with [VerifyRequest]; the agent signs them with
// [AuthorizationHeader].
//
// Everything here is pure computation except [LoadKey]; there are no
// goroutines and no package state besides the error sentinels, so every
// function is safe for concurrent use. Nothing is logged: callers get errors
// (check them with errors.Is against the sentinels below) and decide.
package confirm

import "errors"

// Sentinel errors. Returned errors wrap them with details (which field,
// which file, what to do); test with errors.Is.
var (
	// ErrNoToken: the text contains no BP1 token at all (an ordinary SMS).
	ErrNoToken = errors.New("no confirmation token")
	// ErrMalformed: the text contains "BP1" but no well-formed token
	// (missing or duplicate field, unknown key, empty value, s not last, …).
	ErrMalformed = errors.New("malformed confirmation token")
	// ErrBadKey: key material is not 64 hex digits (or the key file is not
	// a regular file of sensible size).
	ErrBadKey = errors.New("bad terminal key")
	// ErrKeyPermissions: the key file may be read or written by someone
	// other than its owner, or is owned by another user; the agent refuses
	// to use it, as ssh does with private keys.
	ErrKeyPermissions = errors.New("unsafe key file permissions")
	// ErrEmptyAllowlist: no SMS sender is allowed, so no confirmation could
	// ever be accepted; a configuration error.
	ErrEmptyAllowlist = errors.New("empty sms sender allowlist")
)
