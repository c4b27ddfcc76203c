// Package flagstore keeps the terminal's binding record: the durable flag
// that says "this terminal is bound, to this masked number", which lets the
// agent exit at once on every boot after activation.
//
// The record lives in one small JSON file, [FileName], in the state
// directory, on an [afero.Fs] so that tests run on memory and the agent on
// the real flash. Writes are atomic and durable: a temporary file in the
// same directory is written, fsynced, closed and renamed over the record,
// then the directory itself is fsynced. A power cut leaves either the old
// record or the new one, never a mix.
//
// # File format
//
// The file holds one JSON object: the fields of [Record] (version,
// terminal_id, msisdn, source, bound_at, nonce, token — nonce and token
// omitted when empty) plus
//
//	"checksum": "sha256:<64 lowercase hex digits>"
//
// The checksum is SHA-256 over the canonical encoding C of the record
// fields, where C is what Go's encoding/json Marshal produces for [Record]:
// a compact object (no insignificant whitespace) with the keys in the order
// version, terminal_id, msisdn, source, bound_at, nonce, token; nonce and
// token omitted when empty; bound_at in RFC 3339 with fractional seconds only when non-zero
// (trailing zeros dropped, as time.Time's MarshalJSON writes it); strings
// escaped as encoding/json escapes them (including <, >, & as \u003c, \u003e,
// \u0026 and U+2028, U+2029 as \u2028, \u2029). For example the record
//
//	{"version":2,"terminal_id":"STB0012345678","msisdn":"138****8000","source":"sms","bound_at":"2026-11-25T20:00:00Z","nonce":"q8x3k2","token":"BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww"}
//
// has the checksum
// sha256:ecba179898b518a1181318d93e336f652e66c56a6ec7ac4c406e4dcd0177017d.
//
// # Versions
//
// Version 2 (written by this package) adds token: the BP1 token that proved
// the binding, which the flow verifies with the terminal key on every boot
// (package boot, CheckRecord). Version 1 records (no token; their checksum
// computed the same way, e.g. sha256:92803085fd9801f1120614922bb4cca5e939c00023914d7207479e2c546dee41
// for the record above with version 1 and without token) are still read;
// what they are worth is the flow's rule, not this package's.
// A reader decodes the file, rebuilds C from the decoded values and compares
// checksums, so the checksum covers the values, not the whitespace or key
// order of the file. [Store.Save] writes the file indented, bound_at in UTC,
// with a final newline.
//
// # Corrupt records
//
// A record that cannot be trusted (too big, not JSON, wrong checksum,
// unknown version, invalid fields, or written for another terminal) is never
// used: [Store.Load] renames it aside to binding.json.corrupt-<UTC time> for
// a person to inspect, and reports [ErrCorrupt]. The terminal then simply
// asks to be activated again. At most [MaxQuarantined] copies of each state
// file are kept, the oldest (by the time in their names) removed, so that a
// file corrupted again and again cannot fill the flash.
//
// # Regular files only, mode 0600
//
// Every state file (binding.json, nonces.json, inbox.json, their temporary
// files and quarantined copies) is 0600 whatever the umask: [WriteFile] sets
// the mode on the open file before writing. A state file is read only when
// it is a regular file: on the real file system it is opened with
// O_NOFOLLOW and O_NONBLOCK and checked with fstat, elsewhere checked with
// Lstat first. A symbolic link, FIFO, device, socket or directory in its
// place is never opened for reading (a FIFO would block `status` at boot).
// It counts as corrupt, like a file of garbage: Load and the [Ledger] move
// it aside (a rename, which touches neither a link's target nor a FIFO's
// writer) and carry on, so that the agent keeps running, shows the prompt
// and its next write puts a regular file in its place; [Store.Peek] reports
// it. The error names the path and what is there ("it is a named pipe
// (FIFO), not a regular file"). An error that may pass (permission denied,
// an I/O error) is not corruption: it is returned, and nothing is moved.
//
// # No write unless something changed
//
// The [Ledger] rewrites a file only when its content changes: issuing a
// nonce already known, consuming one already consumed, or logging an SMS
// already logged writes nothing. The inbox log is capped in bytes as
// written ([MaxInboxSize]), its fields clipped by bytes on character
// boundaries, so it can never outgrow the limit it is read with.
//
// A Store holds no open files and no goroutines. One process writes the
// state directory at a time (the agent; `reset` when it is stopped): each
// write removes the temporary files that a write interrupted by a power cut
// or kill -9 left behind, so a concurrent Save may fail, though never tear a
// record. Reading (`status`) is safe at any time.
package flagstore
