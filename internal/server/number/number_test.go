package number

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestE164(t *testing.T) {
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{"national mobile", "13800138000", "+8613800138000", true},
		{"with +86", "+8613800138000", "+8613800138000", true},
		{"with 0086", "008613800138000", "+8613800138000", true},
		{"bare 86", "8613800138000", "+8613800138000", true},
		{"separators", " 138-0013 8000 ", "+8613800138000", true},
		{"international", "+447700900123", "+447700900123", true},
		{"00 international", "00447700900123", "+447700900123", true},
		{"service code", "10658000", "", false},
		{"landline without country code", "02112345678", "", false},
		{"name", "BindPay", "", false},
		{"empty", "", "", false},
		{"too long", "+1234567890123456", "", false},
		{"too short international", "+1234567", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := E164(c.in)
			if !c.ok {
				require.ErrorIs(t, err, ErrNotPhone, "E164(%q) = %q", c.in, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestMask(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"E.164 China", "+8613800138000", "138****8000"},
		{"national", "13800138000", "138****8000"},
		{"other country", "+447700900123", "447****0123"},
		{"short", "95555", "****5555"},
		{"tiny", "123", "****"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, Mask(c.in))
		})
	}
}
