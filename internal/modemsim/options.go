package modemsim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of the simulated modem.
const (
	DefaultIMEI     = "861234567890123"
	DefaultIMSI     = "460001234567890"
	DefaultICCID    = "89860012345678901234"
	DefaultCapacity = 30
	DefaultSMSC     = "+8613800100500"
	DefaultPIN      = "1234"
)

// SIM states for WithSIMState, as AT+CPIN? names them.
const (
	SIMReady       = "READY"
	SIMPIN         = "SIM PIN"
	SIMNotInserted = "NOT INSERTED"
)

// Alpha styles for WithAlpha: how the <alpha> field of +CMGL/+CMGR headers
// is written.
const (
	AlphaEmpty   = "empty"   // +CMGL: 1,0,,24
	AlphaQuoted  = "quoted"  // +CMGL: 1,0,"",24
	AlphaMissing = "missing" // +CMGL: 1,0,24
)

// maxLine bounds a command line, as a modem's input buffer does; a longer
// line is answered with ERROR.
const maxLine = 2048

// config holds everything that can vary between simulated modems. A profile
// is a config; options adjust it.
type config struct {
	profile                       string
	imei, imsi, iccid             string
	capacity                      int
	logf                          func(format string, args ...any)
	manufacturer, model, revision string
	smsc                          string
	operator                      string

	echoAtPowerOn   bool
	bootLines       []string
	smsReadyAfter   time.Duration
	simBusyFor      time.Duration
	simState        string
	pin             string
	regStat         int
	finalError      string
	cpinNoFinalOK   bool
	lineEnding      string
	indexBase       int
	alpha           string
	missingStatCMGL bool
	missingStatCMGR bool
	cnmiModes       []string // accepted "<mode>,<mt>" pairs; nil: all simulated ones
	memFullURC      string   // written when a delivery finds the storage full; "" silent
	noise           noiseConfig
	idleURCEvery    time.Duration
	baud            int
	vendor          map[string]handler // extra commands, upper-case names
	observe         func(rx bool, start, end time.Time, b []byte)
}

// noiseConfig configures the injection of vendor URCs and garbage at every
// output opportunity.
type noiseConfig struct {
	seed    int64
	rate    float64  // probability of an injection per opportunity
	urcs    []string // the URC lines to pick from
	garbage bool     // some injections are garbage bytes instead of URCs
	// curc: the URCs are the vendor's periodic reports, which AT^CURC=0
	// turns off (garbage stays).
	curc bool
}

// defaultURCs are the vendor URC lines injected by WithNoise when the
// profile has none of its own.
var defaultURCs = []string{
	"^RSSI: 18",
	`^HCSQ: "LTE",52,47,151,32`,
	"^DSFLOWRPT: 0000000A,00000000,00000000,00000000000000AC,00000000000001B2,0003E800,0003E800",
	"+ZUSIMR:2",
	"^MODE: 5,4",
}

func defaultConfig() config {
	return config{
		profile:       "generic",
		imei:          DefaultIMEI,
		imsi:          DefaultIMSI,
		iccid:         DefaultICCID,
		capacity:      DefaultCapacity,
		manufacturer:  "Quectel",
		model:         "EC20F",
		revision:      "EC20CEFAGR06A09M4G",
		smsc:          DefaultSMSC,
		operator:      "CHINA MOBILE",
		echoAtPowerOn: true,
		simState:      SIMReady,
		pin:           DefaultPIN,
		regStat:       1,
		finalError:    "ERROR",
		lineEnding:    "\r\n",
		indexBase:     1,
		alpha:         AlphaEmpty,
	}
}

// profiles builds each named bundle of quirks from the generic modem.
var profiles = map[string]func(c *config){
	// The modem as it was before profiles existed: a well-behaved
	// Quectel-like modem with no boot lines and no vendor URCs.
	"generic": func(*config) {},
	// Quectel EC2x (EC20/EC25): boot lines, SMS not ready for a while,
	// +QCCID and +QURCCFG/+QINDCFG/+QCFG accepted.
	"quectel": func(c *config) {
		c.manufacturer, c.model, c.revision = "Quectel", "EC25", "EC25EFAR06A06M4G"
		c.bootLines = []string{"RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE"}
		c.smsReadyAfter = 2 * time.Second
		c.simBusyFor = 500 * time.Millisecond
		c.vendor = map[string]handler{"+QURCCFG": accepted, "+QINDCFG": accepted, "+QCFG": accepted}
	},
	// SIMCom SIM7600: boot lines ending in SMS DONE and PB DONE, echo on,
	// SIM busy for a moment after start; +CICCID answers +ICCID:.
	"simcom": func(c *config) {
		c.manufacturer, c.model, c.revision = "SIMCOM INCORPORATED", "SIMCOM_SIM7600E-H", "LE20B04SIM7600M22"
		c.bootLines = []string{"RDY", "+CPIN: READY", "SMS DONE", "PB DONE"}
		c.smsReadyAfter = 1500 * time.Millisecond
		c.simBusyFor = time.Second
		c.vendor = map[string]handler{"+CSUB": identity(func(config) string { return "+CSUB: B04V03" })}
	},
	// SIMCom SIM800 (2G): "Call Ready" and "SMS Ready" boot lines, the SMS
	// subsystem slow to come up.
	"sim800": func(c *config) {
		c.manufacturer, c.model, c.revision = "SIMCOM_Ltd", "SIMCOM_SIM800L", "Revision:1418B04SIM800L24"
		c.bootLines = []string{"RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"}
		c.smsReadyAfter = 3 * time.Second
	},
	// Huawei ME909s / E3372 in AT mode: vendor URCs at any time (until
	// AT^CURC=0), COMMAND NOT SUPPORT for unknown commands, only CNMI mode
	// 1, \r\r\n line endings, ^SMMEMFULL when storage is full.
	"huawei": func(c *config) {
		c.manufacturer, c.model, c.revision = "Huawei Technologies Co., Ltd.", "ME909s-821", "11.617.01.00.00"
		c.bootLines = []string{"^SYSSTART"}
		c.finalError = "COMMAND NOT SUPPORT"
		c.cnmiModes = []string{"0,0", "1,1"}
		c.lineEnding = "\r\r\n"
		c.memFullURC = `^SMMEMFULL: "SM"`
		c.noise = noiseConfig{seed: 1, rate: 0.15, urcs: []string{
			"^RSSI: 18",
			`^HCSQ: "LTE",52,47,151,32`,
			"^DSFLOWRPT: 0000000A,00000000,00000000,00000000000000AC,00000000000001B2,0003E800,0003E800",
			"^MODE: 5,4",
		}, curc: true}
		c.vendor = map[string]handler{"^CURC": (*state).cmdCURC, "^SYSCFG": accepted, "^SYSCFGEX": accepted}
	},
	// ZTE MF-series (MF626/MF823): +ZUSIMR:2 URCs, 0-based storage
	// indexes, +CMGL/+CMGR with a quoted-empty alpha, +CMGR without its
	// stat, bare \n line endings; +ZCDRUN and +ZOPRT accepted.
	"zte": func(c *config) {
		c.manufacturer, c.model, c.revision = "ZTE CORPORATION", "MF626", "BD_P673A2V1.0.0B09"
		c.indexBase = 0
		c.alpha = AlphaQuoted
		c.missingStatCMGR = true
		c.lineEnding = "\n"
		c.noise = noiseConfig{seed: 1, rate: 0.15, urcs: []string{"+ZUSIMR:2"}}
		c.vendor = map[string]handler{"+ZCDRUN": accepted, "+ZOPRT": accepted}
	},
}

// Profiles returns the names WithProfile accepts, sorted.
func Profiles() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Option configures a Modem. Options apply on top of the profile (see
// WithProfile) in the order given.
type Option func(*config)

// WithProfile selects a bundle of quirks modelled on a modem family (see
// Profiles and the package documentation). The profile is applied first,
// wherever the option appears; the other options adjust it. New fails on
// an unknown name.
func WithProfile(name string) Option { return func(c *config) { c.profile = name } }

// WithIMEI sets the IMEI answered to AT+CGSN (default DefaultIMEI).
func WithIMEI(s string) Option { return func(c *config) { c.imei = s } }

// WithIMSI sets the IMSI answered to AT+CIMI (default DefaultIMSI).
func WithIMSI(s string) Option { return func(c *config) { c.imsi = s } }

// WithICCID sets the SIM's ICCID answered to AT+CCID (default DefaultICCID).
func WithICCID(s string) Option { return func(c *config) { c.iccid = s } }

// WithCapacity sets the number of SM storage slots (default 30).
func WithCapacity(n int) Option { return func(c *config) { c.capacity = n } }

// WithLog logs the traffic (each line received, each write) for debugging.
// logf is called only from the Modem's goroutine, never after Close returns.
func WithLog(logf func(format string, args ...any)) Option {
	return func(c *config) { c.logf = logf }
}

// WithEchoAtPowerOn sets whether echo is on at power-on and after a reset
// (default true, so the ATE0 that turns it off is itself echoed).
func WithEchoAtPowerOn(on bool) Option { return func(c *config) { c.echoAtPowerOn = on } }

// WithBootLines sets the unsolicited lines written at power-on (New,
// Reset, Replug), for example "RDY", "+CFUN: 1", "+CPIN: READY",
// "SMS Ready". The first line that announces SMS readiness ("SMS Ready",
// "SMS DONE", "+QIND: SMS DONE") and the lines after it are written only
// once the SMS subsystem is ready (see WithSMSReadyAfter) and the SIM is
// ready. A "+CPIN: READY" line reports the actual SIM state.
func WithBootLines(lines ...string) Option {
	return func(c *config) { c.bootLines = slices.Clone(lines) }
}

// WithSMSReadyAfter makes the SMS commands (+CMGF, +CPMS, +CNMI, +CMGL,
// +CMGR, +CMGD, +CSCA, +CSMS; their =? forms excepted) answer +CMS ERROR:
// 500 (ERROR with AT+CMEE=0) until d after power-on.
func WithSMSReadyAfter(d time.Duration) Option { return func(c *config) { c.smsReadyAfter = d } }

// WithSIMBusyFor makes AT+CPIN? and the commands that read the SIM answer
// "SIM busy" for d after power-on: +CME ERROR: 14, or +CMS ERROR: 314 for
// the SMS commands (ERROR with AT+CMEE=0).
func WithSIMBusyFor(d time.Duration) Option { return func(c *config) { c.simBusyFor = d } }

// WithSIMState sets the SIM state at power-on: SIMReady (default), SIMPIN
// (AT+CPIN? answers +CPIN: SIM PIN; AT+CPIN="1234" unlocks it until the
// next power-on) or SIMNotInserted (+CME ERROR: 10 / +CMS ERROR: 310).
func WithSIMState(s string) Option { return func(c *config) { c.simState = s } }

// WithRegistration sets the <stat> of +CREG?, +CGREG? and +CEREG?: 1
// registered home (default), 0 not registered, 2 searching, 3 denied, 5
// roaming.
func WithRegistration(stat int) Option { return func(c *config) { c.regStat = stat } }

// WithFinalError sets the final result of unknown or unsupported commands
// (default "ERROR"), for example "COMMAND NOT SUPPORT". Errors of known
// commands are unchanged: +CME/+CMS ERROR, or ERROR with AT+CMEE=0.
func WithFinalError(s string) Option { return func(c *config) { c.finalError = s } }

// WithCPINNoFinalOK makes a successful AT+CPIN? answer its +CPIN: line and
// never send the final OK.
func WithCPINNoFinalOK() Option { return func(c *config) { c.cpinNoFinalOK = true } }

// WithLineEnding sets the line ending of everything the modem writes:
// "\r\n" (default), "\r\r\n" or "\n".
func WithLineEnding(s string) Option { return func(c *config) { c.lineEnding = s } }

// WithIndexBase sets the first storage index: 1 (default) or 0. It applies
// on the wire and to Slot.Index and the indexes Store and Deliver return.
func WithIndexBase(base int) Option { return func(c *config) { c.indexBase = base } }

// WithAlpha sets how the <alpha> field of +CMGL and +CMGR headers is
// written: AlphaEmpty (default), AlphaQuoted or AlphaMissing.
func WithAlpha(style string) Option { return func(c *config) { c.alpha = style } }

// WithMissingStat leaves the <stat> field of +CMGL and +CMGR headers empty
// (`+CMGL: 1,,,24`, `+CMGR: ,,24`).
func WithMissingStat() Option {
	return func(c *config) { c.missingStatCMGL, c.missingStatCMGR = true, true }
}

// WithCNMIModes restricts AT+CNMI to the given "<mode>,<mt>" pairs, for
// example "1,1"; other settings answer +CMS ERROR: 303 (ERROR with
// AT+CMEE=0), and AT+CNMI=? lists only the modes and mts of those pairs.
func WithCNMIModes(modes ...string) Option {
	return func(c *config) { c.cnmiModes = slices.Clone(modes) }
}

// WithSilentWhenFull makes a delivery that finds the storage full vanish
// without any line on the port (no +CMTI, no memory-full URC such as the
// huawei profile's ^SMMEMFULL); Deliver still returns ErrStorageFull. This
// is the generic profile's behaviour.
func WithSilentWhenFull() Option { return func(c *config) { c.memFullURC = "" } }

// WithMemoryFullURC sets the line written when a delivery finds the
// storage full, for example `^SMMEMFULL: "SM"`.
func WithMemoryFullURC(line string) Option { return func(c *config) { c.memFullURC = line } }

// WithNoise injects, with probability rate at every output opportunity
// (before an echo, between information lines and the final result, next
// to each +CMTI, after a result), either a vendor URC line (the profile's
// set, or ^RSSI/^HCSQ/^DSFLOWRPT/+ZUSIMR/^MODE lines) or, one time in
// four, a line of garbage bytes such as "\x00\xff~~". The choices come
// from a generator seeded with seed and used only by the serving
// goroutine, so they are the same for the same seed and the same sequence
// of commands and events. A rate of 0 turns noise off, including a
// profile's. Unlike the huawei profile's own reports, this noise does not
// stop on AT^CURC=0.
func WithNoise(seed int64, rate float64) Option {
	return func(c *config) {
		urcs := c.noise.urcs
		if len(urcs) == 0 {
			urcs = defaultURCs
		}
		c.noise = noiseConfig{seed: seed, rate: rate, urcs: urcs, garbage: true}
	}
}

// WithNoiseURCs sets the URC lines WithNoise picks from.
func WithNoiseURCs(lines ...string) Option {
	return func(c *config) { c.noise.urcs = slices.Clone(lines) }
}

// WithIdleURCEvery writes one of the noise URC lines (the profile's, or
// WithNoise's default set; chosen with a generator of its own, seeded like
// WithNoise's) whenever the modem has
// written nothing for d: the periodic reports a Huawei modem sends to an
// idle host. 0 (default) turns it off.
func WithIdleURCEvery(d time.Duration) Option { return func(c *config) { c.idleURCEvery = d } }

// WithBaud paces the modem's output at bps/10 bytes per second, as a UART
// at bps baud with 8N1 framing would deliver it; 0 (default) is
// unthrottled. The host's input is not paced.
func WithBaud(bps int) Option { return func(c *config) { c.baud = bps } }

// WithObserver calls f with every piece of traffic on the line, for
// measurements (make bench times the +CMTI write and counts the bytes of
// an exchange): rx true for bytes read from the host (start and end are
// when the read returned), false for each write to the host (start when
// the modem began it, end when its last byte was released: later than
// start only with WithBaud). Writes that fail are not reported. f runs on
// the Modem's goroutine, so it must return quickly and must not call the
// Modem; b is valid only during the call.
func WithObserver(f func(rx bool, start, end time.Time, b []byte)) Option {
	return func(c *config) { c.observe = f }
}

// validate reports the first invalid setting.
func (c *config) validate() error {
	switch {
	case c.capacity < 1:
		return fmt.Errorf("capacity %d: must be at least 1", c.capacity)
	case c.simState != SIMReady && c.simState != SIMPIN && c.simState != SIMNotInserted:
		return fmt.Errorf("SIM state %q: want %q, %q or %q", c.simState, SIMReady, SIMPIN, SIMNotInserted)
	case c.regStat < 0 || c.regStat > 5:
		return fmt.Errorf("registration stat %d: want 0 to 5", c.regStat)
	case c.finalError == "" || strings.ContainsAny(c.finalError, "\r\n"):
		return fmt.Errorf("final error %q: want one non-empty line", c.finalError)
	case c.lineEnding == "" || strings.Trim(c.lineEnding, "\r\n") != "" || !strings.HasSuffix(c.lineEnding, "\n"):
		return fmt.Errorf("line ending %q: want CRs and LFs ending in LF, such as \"\\r\\n\"", c.lineEnding)
	case c.indexBase != 0 && c.indexBase != 1:
		return fmt.Errorf("index base %d: want 0 or 1", c.indexBase)
	case c.alpha != AlphaEmpty && c.alpha != AlphaQuoted && c.alpha != AlphaMissing:
		return fmt.Errorf("alpha style %q: want %q, %q or %q", c.alpha, AlphaEmpty, AlphaQuoted, AlphaMissing)
	case c.noise.rate < 0 || c.noise.rate > 1:
		return fmt.Errorf("noise rate %v: want 0 to 1", c.noise.rate)
	case c.noise.rate > 0 && len(c.noise.urcs) == 0 && !c.noise.garbage:
		return fmt.Errorf("noise: no URC lines to inject")
	case c.idleURCEvery < 0:
		return fmt.Errorf("idle URCs every %v: must not be negative", c.idleURCEvery)
	case c.baud < 0:
		return fmt.Errorf("baud %d: must not be negative", c.baud)
	case c.smsReadyAfter < 0 || c.simBusyFor < 0:
		return fmt.Errorf("negative SMS-ready or SIM-busy duration")
	}
	lines := append(slices.Concat(c.bootLines, c.noise.urcs), c.memFullURC)
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			return fmt.Errorf("line %q: must not contain CR or LF", l)
		}
	}
	for _, pair := range c.cnmiModes {
		if _, _, ok := parseModePair(pair); !ok {
			return fmt.Errorf("CNMI mode %q: want \"<mode>,<mt>\" such as \"1,1\"", pair)
		}
	}
	return nil
}

// parseModePair parses a WithCNMIModes "<mode>,<mt>" pair.
func parseModePair(s string) (mode, mt int, ok bool) {
	a, b, found := strings.Cut(s, ",")
	if !found {
		return 0, 0, false
	}
	mode, err1 := strconv.Atoi(strings.TrimSpace(a))
	mt, err2 := strconv.Atoi(strings.TrimSpace(b))
	return mode, mt, err1 == nil && err2 == nil && mode >= 0 && mode <= 3 && mt >= 0 && mt <= 3
}

// buildConfig applies the profile the options name, then the options.
func buildConfig(opts []Option) (config, error) {
	probe := defaultConfig()
	for _, o := range opts {
		o(&probe)
	}
	apply, ok := profiles[probe.profile]
	if !ok {
		return config{}, fmt.Errorf("profile %q: want one of %s", probe.profile, strings.Join(Profiles(), ", "))
	}
	cfg := defaultConfig()
	cfg.profile = probe.profile
	apply(&cfg)
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return config{}, err
	}
	return cfg, nil
}
