package confirm

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Field rules of protocol version 2 (DESIGN.md, "Answers are validated
// before use"). Everything the platform, a token or a record says is
// checked with these before it reaches a screen, a log line for a person,
// sd_notify or the record: a newline in a STATUS= line, for one, would be an
// injection into the service manager's protocol.

// CheckTerminalID checks a terminal ID: [A-Za-z0-9_-]{1,32}.
func CheckTerminalID(s string) error {
	return checkChars("terminal ID", s, 1, 32, func(c byte) bool { return isAlnum(c) || c == '_' || c == '-' })
}

// CheckSMSTo checks the number the user is told to text: [0-9+]{3,20}.
func CheckSMSTo(s string) error {
	return checkChars("sms_to", s, 3, 20, func(c byte) bool { return c >= '0' && c <= '9' || c == '+' })
}

// CheckMaskedMSISDN checks a bound number as a terminal sees it (always
// masked, e.g. 138****8000): [0-9+*]{3,20}.
func CheckMaskedMSISDN(s string) error {
	return checkChars("msisdn", s, 3, 20, func(c byte) bool { return c >= '0' && c <= '9' || c == '+' || c == '*' })
}

// CheckNonce checks a nonce: [A-Za-z0-9_-]{1,64}.
func CheckNonce(s string) error {
	return checkChars("nonce", s, 1, 64, func(c byte) bool { return isAlnum(c) || c == '_' || c == '-' })
}

// CheckSMSBody checks the text the user is told to send: 1 to 160
// printable characters of valid UTF-8, no control characters (no newline,
// no tab, no Unicode format characters such as bidi overrides).
func CheckSMSBody(s string) error {
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		return fmt.Errorf("sms_body is not valid UTF-8")
	case n == 0:
		return fmt.Errorf("sms_body is empty")
	case n > 160:
		return fmt.Errorf("sms_body has %d characters, at most 160", n)
	}
	for i, r := range s {
		if !unicode.IsPrint(r) && r != ' ' && r != '\u3000' {
			return fmt.Errorf("sms_body has a control or invisible character %U at byte %d", r, i)
		}
	}
	return nil
}

// checkChars checks that s has min to max bytes, each allowed by ok. The
// error quotes at most the first 40 bytes of s, escaped.
func checkChars(what, s string, min, max int, ok func(byte) bool) error {
	if len(s) < min || len(s) > max {
		return fmt.Errorf("%s %s: want %d to %d characters, got %d", what, quoteClip(s), min, max, len(s))
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return fmt.Errorf("%s %s: character %q at byte %d is not allowed", what, quoteClip(s), s[i], i)
		}
	}
	return nil
}

// quoteClip quotes at most 40 bytes of s for an error message: escaped, so
// that whatever s holds cannot break the line it is printed on.
func quoteClip(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%q…", s[:40])
	}
	return fmt.Sprintf("%q", s)
}
