package boot

import (
	"time"
)

// Polling bounds (DESIGN.md, "Polling").
const (
	// MaxRetryAfter caps a platform's Retry-After.
	MaxRetryAfter = time.Hour
	// MinRetryAfter is the floor of a Retry-After: a platform asking for
	// less is asked again no sooner than this.
	MinRetryAfter = 10 * time.Second
	// pollJitter is the ±fraction every interval is spread by, so that boxes
	// powered on together after a regional power cut do not ask in step.
	pollJitter = 0.2
	// unboundDay is how long a box stays unbound, answered each time,
	// before its interval starts to lengthen.
	unboundDay = 24 * time.Hour
	// maxLengthened is the longest interval lengthening reaches.
	maxLengthened = time.Hour
	// minFailureDelay keeps full jitter from asking again at once.
	minFailureDelay = time.Second
)

// PollState is what the next query's time depends on.
type PollState struct {
	// Answered: the last query got a believed answer (not bound, or a
	// terminal the platform does not know). Otherwise it failed.
	Answered bool
	// Failures is how many queries in a row have failed, this one included
	// (0 when Answered).
	Failures int
	// RetryAfter is the platform's Retry-After on the last answer (200,
	// 429, 503), 0 when it sent none.
	RetryAfter time.Duration
	// UnboundFor is how long the platform has answered "not bound" without
	// a break.
	UnboundFor time.Duration
}

// PollPolicy is the configuration of polling.
type PollPolicy struct {
	Interval time.Duration // platform.poll_interval
	RetryMin time.Duration // first failure backoff
}

// NextPoll decides when to ask the platform again. rnd returns a uniform
// value in [0, 1); tests pass a fixed one.
//
//   - After an answer: the poll interval, ±20 %. Once the box has been
//     answered "not bound" for a day, the interval doubles for each further
//     day (×2 after one day, ×4 after two…), up to one hour (never below the
//     configured interval): a box on a shelf for months asks 24 times a day,
//     not 288, and an activation still binds at once from its SMS.
//   - After failures: exponential backoff from RetryMin with full jitter
//     (uniform between 0 and the backoff, at least 1 s), the backoff capped
//     at the poll interval.
//   - A Retry-After (capped at 1 h, at least 10 s) is a minimum: the delay is
//     never shorter; jitter only lengthens it.
func NextPoll(p PollPolicy, s PollState, rnd func() float64) time.Duration {
	var d time.Duration
	if s.Answered {
		base := p.Interval
		if s.UnboundFor >= unboundDay {
			base = lengthened(p.Interval, int(s.UnboundFor/unboundDay))
		}
		d = time.Duration(float64(base) * (1 - pollJitter + 2*pollJitter*rnd()))
	} else {
		ceiling := p.RetryMin
		for i := 1; i < s.Failures && ceiling < p.Interval; i++ {
			ceiling *= 2
		}
		ceiling = min(ceiling, p.Interval)
		d = max(time.Duration(float64(ceiling)*rnd()), min(minFailureDelay, ceiling))
	}
	if s.RetryAfter > 0 {
		ra := min(max(s.RetryAfter, MinRetryAfter), MaxRetryAfter)
		if d < ra {
			// Spread the herd that was told the same Retry-After: up to 20 %
			// later, never earlier.
			d = ra + time.Duration(float64(ra)*pollJitter*rnd())
		}
	}
	return d
}

// lengthened is interval doubled days times, at most maxLengthened, never
// below interval.
func lengthened(interval time.Duration, days int) time.Duration {
	d := interval
	for i := 0; i < days && d < maxLengthened; i++ {
		d *= 2
	}
	return max(min(d, maxLengthened), interval)
}
