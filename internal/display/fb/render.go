package fb

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"unicode"

	"golang.org/x/image/math/fixed"

	"bindpay/internal/display"
)

// The screen's colours. The page is white, so the QR code's quiet zone is
// the page itself and the code is black on white, as every scanner wants;
// the title bar is blue; values (terminal ID, number, SMS body) are blue
// too; the headline is red while something is to be done, green once
// bound.
var (
	colPage  = color.RGBA{0xFF, 0xFF, 0xFF, 0xFF}
	colText  = color.RGBA{0x20, 0x21, 0x24, 0xFF}
	colBar   = color.RGBA{0x0B, 0x4F, 0x8A, 0xFF}
	colWhite = color.RGBA{0xFF, 0xFF, 0xFF, 0xFF}
	colMuted = color.RGBA{0x5F, 0x63, 0x68, 0xFF}
	colAlert = color.RGBA{0xB3, 0x26, 0x1E, 0xFF}
	colGood  = color.RGBA{0x1E, 0x7B, 0x34, 0xFF}
	colBlack = color.RGBA{0x00, 0x00, 0x00, 0xFF}
)

// The palette is made of ramps of levels colours each, from a background
// (level 0) to a foreground (the last level), so that anti-aliased text is
// one byte per pixel: ramp×levels + coverage.
const levels = 32

// ramp names a palette ramp.
type ramp uint8

const (
	rampText   ramp = iota // page → text
	rampBar                // bar → white
	rampAccent             // page → the state's colour
	rampValue              // page → blue
	rampMuted              // page → grey
	rampAlert              // page → red
	rampQR                 // page → black
	ramps
)

// palette returns the ramps, with the headline in accent.
func palette(accent color.RGBA) color.Palette {
	pairs := [ramps][2]color.RGBA{
		rampText:   {colPage, colText},
		rampBar:    {colBar, colWhite},
		rampAccent: {colPage, accent},
		rampValue:  {colPage, colBar},
		rampMuted:  {colPage, colMuted},
		rampAlert:  {colPage, colAlert},
		rampQR:     {colPage, colBlack},
	}
	p := make(color.Palette, 0, int(ramps)*levels)
	for _, pr := range pairs {
		for l := range levels {
			mix := func(a, b uint8) uint8 {
				return uint8((int(a)*(levels-1-l) + int(b)*l + (levels-1)/2) / (levels - 1))
			}
			p = append(p, color.RGBA{mix(pr[0].R, pr[1].R), mix(pr[0].G, pr[1].G), mix(pr[0].B, pr[1].B), 0xFF})
		}
	}
	return p
}

// accent is the headline's colour for a state.
func accent(st display.State) color.RGBA {
	switch st {
	case display.StateBound:
		return colGood
	case display.StateChecking:
		return colBar
	}
	return colAlert
}

// style is how a role's text is drawn: size in units of the body size,
// weight, and ramps for catalogue text and for values.
type style struct {
	size      float64
	bold      bool
	ramp      ramp
	valueBold bool
	valueRamp ramp
	gapBefore float64 // in units of the body size
}

func styleOf(r display.Role) style {
	switch r {
	case display.RoleHeadline:
		return style{size: 1.45, bold: true, ramp: rampAccent, valueBold: true, valueRamp: rampAccent}
	case display.RoleTerminal, display.RoleInstruction:
		return style{size: 1, ramp: rampText, valueBold: true, valueRamp: rampValue, gapBefore: 0.55}
	case display.RoleProblem:
		return style{size: 0.8, ramp: rampAlert, valueRamp: rampAlert, gapBefore: 0.55}
	case display.RoleProblemDetail:
		return style{size: 0.8, ramp: rampAlert, valueRamp: rampAlert}
	default: // scan hint, note, status
		return style{size: 0.8, ramp: rampMuted, valueBold: true, valueRamp: rampMuted, gapBefore: 0.55}
	}
}

// Proportions of the screen: margins in fractions of its width or height,
// sizes in fractions of its smaller side.
const (
	marginW         = 0.05  // each side: the title-safe area of a TV that overscans
	marginH         = 0.05  // top and bottom
	barH            = 0.12  // title bar, from the top edge
	titleSize       = 0.042 // title text
	gapH            = 0.045 // between the bar and the content
	bodySize        = 0.05  // body text, before shrinking to fit
	qrShare         = 0.48  // the QR code's share of the content's width, at most
	qrSharePortrait = 0.55  // and of its height on a portrait screen
	lineH           = 1.35  // line height, in font sizes
	minScale        = 0.3   // text shrinks to fit down to this
)

// layout lays s out for a width×height screen, loading the fonts at the
// first call. A non-nil error with a scene is the fonts' ErrNoCJKFont
// warning.
func (f *Framebuffer) layout(s display.Screen, width, height int) (sc *scene, err error) {
	defer func() {
		// The font parser reads a file given by configuration: a corrupt
		// one must not take the agent down with it.
		if p := recover(); p != nil {
			sc, err = nil, fmt.Errorf("render: %v (corrupt font file %q?)", p, f.fontPath)
		}
	}()
	if f.fonts == nil {
		fonts, err := loadFonts(f.fsys, f.lang, f.fontPath, f.fontIndex)
		if err != nil {
			return nil, err
		}
		f.fonts = fonts
	}
	w, err := display.Word(f.fonts.lang, s)
	if err != nil {
		return nil, err
	}
	sc, err = compose(f.fonts, w, s.State, width, height)
	if err != nil {
		return nil, err
	}
	return sc, f.fonts.err
}

// render draws s whole, for Render.
func (f *Framebuffer) render(s display.Screen, width, height int) (*image.Paletted, error) {
	sc, err := f.layout(s, width, height)
	if sc == nil {
		return nil, err
	}
	img := image.NewPaletted(image.Rect(0, 0, width, height), sc.palette)
	if perr := sc.draw(img); perr != nil {
		return nil, perr
	}
	return img, err
}

// scene is a screen laid out: what to draw where, in order, before any
// pixel is drawn, so that it can be drawn a band of rows at a time (see
// Framebuffer.write) as well as whole.
type scene struct {
	width, height int
	palette       color.Palette
	ops           []op
}

// op is one drawing operation: a filled rectangle (para nil) or a line of
// text with its baseline at (x, base); rect bounds what it may touch.
type op struct {
	rect    image.Rectangle
	index   uint8 // fill colour
	para    *para
	line    []atom
	x, base int
}

func (sc *scene) fill(r image.Rectangle, rp ramp, level int) {
	sc.ops = append(sc.ops, op{rect: r, index: uint8(int(rp)*levels + level)})
}

func (sc *scene) text(p *para, line []atom, x, base int) {
	// Generous bounds: accents above the ascent, descenders below, and
	// bold's second pass to the right.
	px := int(p.px) + 1
	r := image.Rect(x-px, base-2*px, sc.width, base+px)
	sc.ops = append(sc.ops, op{rect: r, para: p, line: line, x: x, base: base})
}

// draw draws the part of the scene that falls in dst, which must be
// cleared to the page colour (index 0). dst may be any band of the screen.
func (sc *scene) draw(dst *image.Paletted) (err error) {
	defer func() {
		// Glyphs are read from the font file as they are drawn.
		if p := recover(); p != nil {
			err = fmt.Errorf("render: %v (corrupt font file?)", p)
		}
	}()
	for _, o := range sc.ops {
		if !o.rect.Overlaps(dst.Rect) {
			continue
		}
		if o.para == nil {
			fillIndex(dst, o.rect, o.index)
			continue
		}
		o.para.draw(dst, o.x, o.base, [][]atom{o.line})
	}
	return nil
}

// compose lays w out on a width×height screen with fonts. Sizes follow
// the screen's smaller side; on a landscape screen (a TV) the QR code
// stands right of the text, as tall as the content; on a portrait panel it
// stands below, as wide as the content.
func compose(fonts *fontSet, w display.Words, st display.State, width, height int) (*scene, error) {
	sc := &scene{width: width, height: height, palette: palette(accent(st))}
	H, W := float64(height), float64(width)
	unit := float64(min(width, height))
	mx, my := round(marginW*W), round(marginH*H)
	// The bar holds the title below the overscan margin, however tall
	// that margin is.
	bar := max(round(barH*unit), my+round(1.8*titleSize*unit))
	sc.fill(image.Rect(0, 0, width, bar), rampBar, 0)

	content := image.Rect(mx, bar+round(gapH*unit), width-mx, height-my)
	text := content
	hasQR := false
	if w.QR != "" {
		// A payload too long for any QR code leaves the text alone on the
		// screen: it still says what to send where.
		if code, err := display.EncodeQR(w.QR); err == nil {
			if x0, y0, m, ok := placeQR(content, code.Size, width >= height); ok {
				sc.qr(code, x0, y0, m)
				hasQR = true
				// The quiet zone keeps the text off the code.
				if width >= height {
					text.Max.X = x0
				} else {
					text.Max.Y = y0
				}
			}
		}
	}

	var paras []*para
	for _, l := range w.Lines {
		switch l.Role {
		case display.RoleTitle:
			p := newPara(fonts, l, style{size: 1, bold: true, ramp: rampBar, valueBold: true, valueRamp: rampBar})
			if err := p.layout(titleSize*unit, width-2*mx); err != nil {
				return nil, err
			}
			// Centred in the part of the bar below the overscan margin.
			base := my + (bar-my)/2 + round(0.36*titleSize*unit)
			sc.text(p, p.lines[0], mx, base)
		case display.RoleQR:
		case display.RoleScanHint:
			if hasQR {
				paras = append(paras, newPara(fonts, l, styleOf(l.Role)))
			}
		default:
			paras = append(paras, newPara(fonts, l, styleOf(l.Role)))
		}
	}
	if len(paras) == 0 {
		return sc, nil
	}
	paras[0].st.gapBefore = 0

	// Shrink the text until it fits the column without breaking a word.
	body := bodySize * unit
	var total int
	for scale := 1.0; ; scale *= 0.9 {
		total = 0
		broke := false
		for _, p := range paras {
			p.scale = scale
			if err := p.layout(body*scale*p.st.size, text.Dx()); err != nil {
				return nil, err
			}
			broke = broke || p.brokeWord
			total += round(body*scale*p.st.gapBefore) + len(p.lines)*p.lineHeight
		}
		if total <= text.Dy() && !broke || scale < minScale {
			break
		}
	}
	y := text.Min.Y + max(0, (text.Dy()-total)/2)
	for _, p := range paras {
		y += round(body * p.scale * p.st.gapBefore)
		for _, l := range p.lines {
			sc.text(p, l, text.Min.X, y+p.ascent)
			y += p.lineHeight
		}
	}
	return sc, nil
}

// placeQR returns where a code of size modules goes in content, with its
// quiet zone: the top-left corner and the module size in pixels. The
// module size follows the screen's height: on a landscape screen the code
// is as tall as the content unless that takes more than its share of the
// width; on a portrait one it is as wide as the content unless that takes
// more than its share of the height. ok is false when not even 1-pixel
// modules fit.
func placeQR(content image.Rectangle, size int, landscape bool) (x0, y0, m int, ok bool) {
	n := size + 2*display.QuietZone
	if landscape {
		side := min(content.Dy(), int(qrShare*float64(content.Dx())))
		m = side / n
		q := m * n
		x0, y0 = content.Max.X-q, content.Min.Y+(content.Dy()-q)/2
	} else {
		side := min(content.Dx(), int(qrSharePortrait*float64(content.Dy())))
		m = side / n
		q := m * n
		x0, y0 = content.Min.X+(content.Dx()-q)/2, content.Max.Y-q
	}
	return x0, y0, m, m >= 1
}

func round(f float64) int { return int(math.Round(f)) }

// fillIndex paints the part of r in img with a palette index.
func fillIndex(img *image.Paletted, r image.Rectangle, idx uint8) {
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):img.PixOffset(r.Max.X, y)]
		for i := range row {
			row[i] = idx
		}
	}
}

// qr lays out code's dark modules, m×m pixels each, with its quiet zone's
// top-left corner at (x0, y0); the quiet zone is the page.
func (sc *scene) qr(code *display.QR, x0, y0, m int) {
	qz := display.QuietZone
	sc.fill(image.Rect(x0, y0, x0+(code.Size+2*qz)*m, y0+(code.Size+2*qz)*m), rampQR, 0)
	for y := range code.Size {
		for x := range code.Size {
			if code.Dark(x, y) {
				px, py := x0+(x+qz)*m, y0+(y+qz)*m
				sc.fill(image.Rect(px, py, px+m, py+m), rampQR, levels-1)
			}
		}
	}
}

// atom is one character of a paragraph, and whether it is a value.
type atom struct {
	r     rune
	value bool
}

// para is a paragraph laid out in a column.
type para struct {
	fonts      *fontSet
	st         style
	atoms      []atom
	scale      float64 // of the body size, set by paint
	face       *chain
	embolden   fixed.Int26_6 // how far bold glyphs are drawn twice
	lines      [][]atom
	brokeWord  bool // a word was too long for the column
	lineHeight int
	ascent     int
	px         float64 // font size
}

func newPara(fonts *fontSet, l display.Line, st style) *para {
	p := &para{fonts: fonts, st: st}
	for _, s := range l.Spans {
		for _, r := range s.Text {
			p.atoms = append(p.atoms, atom{r, s.Value})
		}
	}
	return p
}

// layout wraps the paragraph at px pixels per em into lines of at most
// width pixels.
func (p *para) layout(px float64, width int) error {
	var err error
	if p.face, err = p.fonts.face(px); err != nil {
		return err
	}
	p.px = px
	p.embolden = fixed.Int26_6(px * 64 / 22)
	p.lineHeight = round(px * lineH)
	p.ascent = round(px * 1.02)
	p.lines, p.brokeWord = wrap(p.atoms, fixed.I(width), p.width)
	return nil
}

// style returns whether a is drawn bold, and in which ramp.
func (p *para) style(a atom) (bold bool, rp ramp) {
	if a.value {
		return p.st.valueBold, p.st.valueRamp
	}
	return p.st.bold, p.st.ramp
}

// width returns the advance of atoms set in a line.
func (p *para) width(atoms []atom) fixed.Int26_6 {
	var w fixed.Int26_6
	prev := rune(-1)
	for _, a := range atoms {
		w += p.face.advance(prev, a.r)
		if bold, _ := p.style(a); bold {
			w += p.embolden
		}
		prev = a.r
	}
	return w
}

// draw draws lines, the first with its baseline at (x, base). Bold is the
// glyph drawn twice, the second time p.embolden further right, its advance
// widened as much.
func (p *para) draw(img *image.Paletted, x, base int, lines [][]atom) {
	for _, line := range lines {
		dot := fixed.P(x, base)
		prev := rune(-1)
		for _, a := range line {
			bold, rp := p.style(a)
			adv := p.face.advance(-1, a.r)
			dot.X += p.face.advance(prev, a.r) - adv // kerning
			if !unicode.IsSpace(a.r) {
				if dr, mask, mp, ok := p.face.glyph(dot, a.r); ok {
					drawMask(img, dr, mask, mp, rp)
				}
				if bold {
					d := dot
					d.X += p.embolden
					if dr, mask, mp, ok := p.face.glyph(d, a.r); ok {
						drawMask(img, dr, mask, mp, rp)
					}
				}
			}
			dot.X += adv
			if bold {
				dot.X += p.embolden
			}
			prev = a.r
		}
		base += p.lineHeight
	}
}

// drawMask raises the pixels under mask to its coverage in ramp rp: text
// never lightens what is already drawn.
func drawMask(img *image.Paletted, dr image.Rectangle, mask image.Image, mp image.Point, rp ramp) {
	clip := dr.Intersect(img.Rect)
	alpha, _ := mask.(*image.Alpha)
	for y := clip.Min.Y; y < clip.Max.Y; y++ {
		for x := clip.Min.X; x < clip.Max.X; x++ {
			mx, my := mp.X+x-dr.Min.X, mp.Y+y-dr.Min.Y
			var a uint8
			if alpha != nil {
				a = alpha.AlphaAt(mx, my).A
			} else {
				_, _, _, a16 := mask.At(mx, my).RGBA()
				a = uint8(a16 >> 8)
			}
			if a == 0 {
				continue
			}
			level := (int(a)*(levels-1) + 127) / 255
			off := img.PixOffset(x, y)
			if level > int(img.Pix[off])%levels {
				img.Pix[off] = uint8(int(rp)*levels + level)
			}
		}
	}
}

// wrap breaks atoms into lines no wider than width, at spaces and between
// CJK characters, never before closing or after opening punctuation, and
// rather outside a value (an SMS body broken in two reads as two words)
// than inside; inside a word only when the word alone is too wide, which
// brokeWord reports. "\n" breaks a line. Spaces at the ends of lines are
// dropped.
func wrap(atoms []atom, width fixed.Int26_6, measure func([]atom) fixed.Int26_6) (lines [][]atom, brokeWord bool) {
	var line []atom
	flush := func() {
		lines = append(lines, trimSpace(line))
		line = nil
	}
	for _, a := range atoms {
		if a.r == '\n' {
			flush()
			continue
		}
		if len(line) == 0 && a.r == ' ' {
			continue
		}
		line = append(line, a)
		if a.r == ' ' || len(line) < 2 || measure(trimSpace(line)) <= width {
			continue
		}
		b := breakPoint(line)
		if b == 0 {
			b = len(line) - 1 // inside a word
			brokeWord = true
		}
		rest := append([]atom(nil), line[b:]...)
		line = line[:b]
		flush()
		for len(rest) > 0 && rest[0].r == ' ' {
			rest = rest[1:]
		}
		line = rest
		// The rest may itself be too wide (a long word): go on breaking.
		for len(line) > 1 && measure(line) > width {
			k := len(line) - 1
			for k > 1 && measure(line[:k]) > width {
				k--
			}
			brokeWord = true
			rest := append([]atom(nil), line[k:]...)
			line = line[:k]
			flush()
			line = rest
		}
	}
	if len(line) > 0 || len(lines) == 0 {
		flush()
	}
	return lines, brokeWord
}

// breakPoint returns the index of line before which it is best broken:
// the last opportunity outside a value, else the last one; 0 for none.
func breakPoint(line []atom) int {
	last := 0
	for k := len(line) - 1; k > 0; k-- {
		if !canBreak(line[k-1].r, line[k].r) {
			continue
		}
		if !(line[k-1].value && line[k].value) {
			return k
		}
		if last == 0 {
			last = k
		}
	}
	return last
}

func trimSpace(line []atom) []atom {
	for len(line) > 0 && line[len(line)-1].r == ' ' {
		line = line[:len(line)-1]
	}
	return line
}

// canBreak reports whether a line may break between prev and next.
func canBreak(prev, next rune) bool {
	switch {
	case isClosing(next), isOpening(prev):
		return false
	case prev == ' ':
		return next != ' '
	}
	return isWide(prev) || isWide(next)
}

// isWide reports whether r is a CJK character, between any two of which a
// line may break.
func isWide(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Hangul) ||
		r >= 0x3000 && r <= 0x303F || r >= 0xFF00 && r <= 0xFFEF
}

// isClosing reports punctuation a line must not start with.
func isClosing(r rune) bool {
	switch r {
	case '，', '。', '、', '：', '；', '！', '？', '）', '】', '》', '」', '』', '”', '’', '…', ',', '.', ':', ';', '!', '?', ')':
		return true
	}
	return false
}

// isOpening reports punctuation a line must not end with.
func isOpening(r rune) bool {
	switch r {
	case '（', '【', '《', '「', '『', '“', '‘', '(':
		return true
	}
	return false
}
