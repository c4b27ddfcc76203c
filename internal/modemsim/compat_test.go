package modemsim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/warthog618/modem/at"
)

// The commands that smstools3's smsd (3.1.21) and gammu-smsd (1.42) send
// to a modem, as recorded by running them against this simulator, with
// the answers they get: supported commands work, the others fail cleanly.
func TestSMSDaemonCommands(t *testing.T) {
	m := newModem(t)
	pdu := encode(t, "+8613800138000", "hello", 0)
	_, err := m.Store(pdu...)
	assert.NoError(t, err)
	c := dial(t, m)

	tests := []struct {
		name    string
		cmd     string
		want    []string // nil: not checked
		wantErr error
	}{
		// smsd
		{"smsd echo off", "E0", nil, nil},
		{"smsd errors and registration", "+CMEE=1;+CREG=2", nil, nil},
		{"smsd pin", "+CPIN?", []string{"+CPIN: READY"}, nil},
		{"smsd signal", "+CSQ", []string{"+CSQ: 20,99"}, nil},
		{"smsd registration", "+CREG?", []string{`+CREG: 2,1,"1A2B","0C3D4E5F",7`}, nil},
		{"smsd pdu mode", "+CMGF=0", nil, nil},
		{"smsd imei", "+CGSN", []string{DefaultIMEI}, nil},
		{"smsd imsi", "+CIMI", []string{DefaultIMSI}, nil},
		{"smsd storage", "+CPMS?", []string{`+CPMS: "SM",1,30,"SM",1,30,"SM",1,30`}, nil},
		// gammu-smsd
		{"gammu echo on", "E1", nil, nil},
		{"gammu mode", "+MODE=2", nil, at.ErrError},
		{"gammu charset", "+CSCS?", []string{`+CSCS: "GSM"`}, nil},
		{"gammu charsets", "+CSCS=?", []string{`+CSCS: ("GSM","IRA","UCS2")`}, nil},
		{"gammu set charset", `+CSCS="GSM"`, nil, nil},
		{"gammu model", "+CGMM", []string{"EC20F"}, nil},
		{"gammu maker", "+CGMI", []string{"Quectel"}, nil},
		{"gammu revision", "+CGMR", []string{"EC20CEFAGR06A09M4G"}, nil},
		{"gammu obex", "+CPROT=?", nil, at.ErrError},
		{"gammu syncml", "+SYNCML=?", nil, at.ErrError},
		{"gammu samsung", "$TSSPCSW=?", nil, at.ErrError},
		{"gammu hang up", "+CHUP=?", nil, at.ErrError},
		{"gammu radio on", "+CFUN=1", nil, nil},
		{"gammu memories", "+CPMS=?", []string{`+CPMS: ("SM"),("SM"),("SM")`}, nil},
		{"gammu sms formats", "+CMGF=?", []string{"+CMGF: (0,1)"}, nil},
		{"gammu indications", "+CNMI=?", []string{"+CNMI: (0-2),(0,1),(0,2),(0,1),(0,1)"}, nil},
		{"gammu set indications", "+CNMI=2,1,0,1,0", nil, nil},
		{"gammu ussd", "+CUSD=1", nil, at.ErrError},
		{"gammu more messages", "+CMMS=2", nil, nil},
		{"gammu select storage", `+CPMS="SM","SM"`, []string{"+CPMS: 1,30,1,30,1,30"}, nil},
		{"gammu battery", "+CBC", nil, at.ErrError},
		{"gammu gprs registration", "+CGREG=2", nil, nil},
		{"gammu attached", "+CGATT?", []string{"+CGATT: 1"}, nil},
		{"gammu clip", "+CLIP?", []string{"+CLIP: 0,1"}, nil},
		{"gammu list", "+CMGL=4", nil, nil},
		{"read", "+CMGR=1", nil, nil},
		{"delete", "+CMGD=1", nil, nil},
		// Others a daemon may send.
		{"huawei reports", "^CURC=0", nil, at.ErrError},
		{"reset", "Z", nil, nil},
		{"factory", "&F", nil, nil},
		{"text mode", "+CMGF=1", nil, nil},
		{"text mode list is not simulated", `+CMGL="ALL"`, nil, at.CMSError("303")},
		{"text mode headers", "+CSDH=1", nil, nil},
		{"back to pdu", "+CMGF=0", nil, nil},
		{"pdu list with a text stat", `+CMGL="ALL"`, nil, at.CMSError("304")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.at.Command(tt.cmd)
			assert.Equal(t, tt.wantErr, err, "AT%s: %q", tt.cmd, got)
			if tt.want != nil {
				assert.Equal(t, tt.want, got, "AT%s", tt.cmd)
			}
		})
	}
}
