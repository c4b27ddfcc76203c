package boot_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"bindpay/internal/boot"
)

func TestNextPoll(t *testing.T) {
	p := boot.PollPolicy{Interval: 5 * time.Minute, RetryMin: 5 * time.Second}
	tests := []struct {
		name        string
		s           boot.PollState
		lo, hi      time.Duration // over rnd in [0, 1)
		atZero      time.Duration // rnd = 0
		atAlmostOne time.Duration // rnd → 1
	}{
		{name: "answered: ±20 %", s: boot.PollState{Answered: true}, atZero: 4 * time.Minute, atAlmostOne: 6 * time.Minute},
		{name: "answered, unbound 23 h: not lengthened", s: boot.PollState{Answered: true, UnboundFor: 23 * time.Hour}, atZero: 4 * time.Minute, atAlmostOne: 6 * time.Minute},
		{name: "unbound a day: ×2", s: boot.PollState{Answered: true, UnboundFor: 25 * time.Hour}, atZero: 8 * time.Minute, atAlmostOne: 12 * time.Minute},
		{name: "unbound two days: ×4", s: boot.PollState{Answered: true, UnboundFor: 49 * time.Hour}, atZero: 16 * time.Minute, atAlmostOne: 24 * time.Minute},
		{name: "unbound a month: 1 h", s: boot.PollState{Answered: true, UnboundFor: 30 * 24 * time.Hour}, atZero: 48 * time.Minute, atAlmostOne: 72 * time.Minute},
		{name: "first failure: full jitter up to RetryMin", s: boot.PollState{Failures: 1}, atZero: time.Second, atAlmostOne: 5 * time.Second},
		{name: "third failure: up to 4×", s: boot.PollState{Failures: 3}, atZero: time.Second, atAlmostOne: 20 * time.Second},
		{name: "many failures: capped at the interval", s: boot.PollState{Failures: 40}, atZero: time.Second, atAlmostOne: 5 * time.Minute},
		{name: "503 Retry-After 10 min is a minimum", s: boot.PollState{Failures: 1, RetryAfter: 10 * time.Minute}, atZero: 10 * time.Minute, atAlmostOne: 12 * time.Minute},
		{name: "Retry-After below the floor", s: boot.PollState{Failures: 1, RetryAfter: time.Second}, atZero: 10 * time.Second, atAlmostOne: 12 * time.Second},
		{name: "Retry-After above the cap", s: boot.PollState{Failures: 1, RetryAfter: 5 * time.Hour}, atZero: time.Hour, atAlmostOne: 72 * time.Minute},
		{name: "200 Retry-After shorter than the interval changes nothing", s: boot.PollState{Answered: true, RetryAfter: time.Minute}, atZero: 4 * time.Minute, atAlmostOne: 6 * time.Minute},
		{name: "200 Retry-After longer than the interval", s: boot.PollState{Answered: true, RetryAfter: 30 * time.Minute}, atZero: 30 * time.Minute, atAlmostOne: 36 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got0 := boot.NextPoll(p, tc.s, func() float64 { return 0 })
			got1 := boot.NextPoll(p, tc.s, func() float64 { return 0.999999999 })
			assert.Equal(t, tc.atZero, got0, "state %+v, rnd 0", tc.s)
			assert.InDelta(t, float64(tc.atAlmostOne), float64(got1), float64(time.Millisecond), "state %+v, rnd→1: got %v", tc.s, got1)
			for i := range 20 {
				r := float64(i) / 20
				got := boot.NextPoll(p, tc.s, func() float64 { return r })
				assert.True(t, got >= got0 && got <= got1, fmt.Sprintf("rnd %v: %v outside [%v, %v]", r, got, got0, got1))
			}
		})
	}
}
