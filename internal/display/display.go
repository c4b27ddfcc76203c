package display

import (
	"errors"
	"fmt"
)

// State is what the screen is about.
type State string

// The states of the activation screen.
const (
	StateChecking State = "checking" // querying the platform
	StatePrompt   State = "prompt"   // not activated: show what to text
	StateUnknown  State = "unknown"  // platform says 404: contact support
	StateBound    State = "bound"    // activated
	StateError    State = "error"    // something needs attention (modem, platform): Error text shown
)

// States lists every State, in the order of the activation flow.
func States() []State {
	return []State{StateChecking, StatePrompt, StateUnknown, StateBound, StateError}
}

// Errors reported by this package; test with errors.Is.
var (
	// ErrUnsupportedLanguage: no message catalogue for the language asked for.
	ErrUnsupportedLanguage = errors.New("unsupported language")
	// ErrInvalidScreen: the Screen cannot be shown (unknown state, or a
	// field the state needs is empty).
	ErrInvalidScreen = errors.New("invalid screen")
	// ErrStuck: a display's Show did not return within its deadline (a
	// console write blocked by flow control, a status file on a hung file
	// system); see Deadline.
	ErrStuck = errors.New("display write blocked")
)

// Screen is what to show, as data; each backend words and draws it. Screen
// is comparable: backends compare it with the last one shown.
type Screen struct {
	State      State
	TerminalID string // required for StatePrompt and StateUnknown
	SMSTo      string // StatePrompt: number to text, shown verbatim
	SMSBody    string // StatePrompt: text to send, shown verbatim
	MSISDN     string // masked, when bound
	Error      string // optional human text (e.g. "modem not found on /dev/ttyUSB2"), shown under the prompt
	Offline    bool   // the prompt uses the fallback because the platform could not be reached
}

// Validate reports whether s can be shown.
func (s Screen) Validate() error {
	switch s.State {
	case StateChecking, StateBound, StateError:
	case StateUnknown:
		if s.TerminalID == "" {
			return fmt.Errorf("%w: %s screen without a terminal ID", ErrInvalidScreen, s.State)
		}
	case StatePrompt:
		if s.TerminalID == "" || s.SMSTo == "" || s.SMSBody == "" {
			return fmt.Errorf("%w: prompt needs terminal ID, SMS number and SMS body (got %q, %q, %q)",
				ErrInvalidScreen, s.TerminalID, s.SMSTo, s.SMSBody)
		}
	default:
		return fmt.Errorf("%w: unknown state %q", ErrInvalidScreen, s.State)
	}
	return nil
}

// Display is one way of showing a Screen to the user.
type Display interface {
	Show(s Screen) error
}

// Multi shows each Screen on several displays.
type Multi []Display

// Show shows s on every display, even when some fail, and returns the
// failures joined with errors.Join (nil when all succeed).
func (m Multi) Show(s Screen) error {
	var errs []error
	for _, d := range m {
		if d == nil {
			continue
		}
		if err := d.Show(s); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

var (
	_ Display = Multi(nil)
	_ Display = (*Console)(nil)
	_ Display = (*StatusFile)(nil)
	_ Display = (*Deadline)(nil)
)
