// Package display shows the user what the terminal is doing about its
// payment binding: checking, "not activated — text this to that", bound, or
// what needs attention. The terminal has no keyboard, so this screen is the
// whole user interface of activation.
//
// The boot state machine describes what to show as a [Screen] — plain data,
// no wording — and hands it to a [Display]. Each backend turns a Screen into
// its own medium:
//   - [Console] writes text lines to a terminal or standard output, with the
//     prompt's QR code drawn in Unicode half blocks;
//   - [StatusFile] writes the Screen as JSON ([Status]) for the terminal's
//     own UI app, replacing the file atomically at each change;
//   - package display/fb draws it on a Linux framebuffer, with a QR code
//     sized to be scanned from across a room. It lives apart because it
//     carries fonts and a rasteriser that the console and the status file
//     do not need.
//
// [Multi] fans one Screen out to several backends; a failing backend does
// not stop the others.
//
// All wording lives in one message catalogue per language (messages.go),
// keyed by message ID, so that a translation is one map and a test can
// check that every language says everything. [Word] puts a Screen into
// words — lines with a [Role] each, values marked — which every backend
// that shows text draws in its own style. The SMS number and body come from
// the service platform and are shown verbatim: the grammar of the
// activation SMS is the platform's, not ours. Only control characters are
// replaced in shown text, so that a hostile or broken answer cannot drive
// the terminal with escape sequences; the QR code ([QRPayload]) and the
// status file carry the values exactly.
//
// The QR code encodes the SMSTO URI "SMSTO:<number>:<body>", which a phone's
// camera app opens as a new SMS, number and text filled in ([EncodeQR]).
//
// Show is called by the boot flow, possibly again and again with the same
// Screen while it retries; backends make repeated identical screens cheap
// and quiet. Constructors do no I/O, so that the agent's bound fast path,
// which shows nothing, pays nothing; package-level state is static data.
// Console and StatusFile are safe for concurrent use, each behind its own
// mutex.
package display
