// Package display shows the user what the terminal is doing about its
// payment binding: checking, "not activated — text this to that", bound, or
// what needs attention. The terminal has no keyboard, so this screen is the
// whole user interface of activation.
//
// The boot state machine describes what to show as a [Screen] — plain data,
// no wording — and hands it to a [Display]. Each backend turns a Screen into
// its own medium: [Console] writes text lines to a terminal or standard
// output; a QR code, a framebuffer renderer and a JSON status file for the
// terminal's UI app are further backends behind the same interface. [Multi]
// fans one Screen out to several backends.
//
// All wording lives in one message catalogue per language (messages.go),
// keyed by message ID, so that a translation is one map and a test can
// check that every language says everything. The SMS number and body come
// from the service platform and are shown verbatim: the grammar of the
// activation SMS is the platform's, not ours. Only control characters are
// replaced, so that a hostile or broken answer cannot drive the terminal
// with escape sequences.
//
// Show is called by the boot flow, possibly again and again with the same
// Screen while it retries; backends make repeated identical screens cheap
// and quiet. Console is safe for concurrent use.
package display
