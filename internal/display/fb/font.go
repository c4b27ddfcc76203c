package fb

import (
	"fmt"
	"image"
	"io"
	"unicode"

	"github.com/spf13/afero"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"bindpay/internal/display"
)

// fontSet is what the framebuffer draws text with, in one language: a
// chain of fonts tried in order for every character. Bold is drawn by
// emboldening (see para.draw), so that one built-in font (Go Regular,
// 130 kB) serves: the agent's binary has a size budget. Faces are made
// per pixel size on demand and kept; neither fonts nor faces are safe for
// concurrent use (the Framebuffer's mutex guards them).
type fontSet struct {
	lang  string // the catalogue drawn: the one asked for, or "en"
	fonts []*opentype.Font
	file  afero.File // the CJK font, read through io.ReaderAt; nil for English
	err   error      // why lang is not the one asked for, wrapping ErrNoCJKFont
	faces map[fixed.Int26_6]*chain
}

// loadFonts returns the fonts for lang. English needs only the built-in Go
// Regular; Chinese needs the CJK font at path, and falls back to English,
// with the reason in the set's err, when it cannot have it.
func loadFonts(fsys afero.Fs, lang, path string, index int) (*fontSet, error) {
	goRegular, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, fmt.Errorf("go regular font: %w", err)
	}
	english := &fontSet{lang: "en", fonts: []*opentype.Font{goRegular}}
	if !needsCJK(lang) {
		return english, nil
	}
	if path == "" {
		english.err = fmt.Errorf("%w configured for %s: showing English", ErrNoCJKFont, lang)
		return english, nil
	}
	cjk, file, err := openFont(fsys, path, index)
	if err == nil {
		err = covers(cjk, goRegular, lang)
		if err != nil {
			file.Close()
		}
	}
	if err != nil {
		english.err = fmt.Errorf("%w: font %s: %w: showing English", ErrNoCJKFont, path, err)
		return english, nil
	}
	// A CJK font may have no Latin (Droid Sans Fallback): Go Regular
	// draws what it lacks.
	return &fontSet{lang: lang, fonts: []*opentype.Font{cjk, goRegular}, file: file}, nil
}

// openFont opens the font at path, a single font or a collection, without
// reading it whole.
func openFont(fsys afero.Fs, path string, index int) (*opentype.Font, afero.File, error) {
	file, err := fsys.Open(path)
	if err != nil {
		return nil, nil, err
	}
	c, err := opentype.ParseCollectionReaderAt(strictReaderAt{file})
	if err != nil {
		file.Close()
		return nil, nil, fmt.Errorf("not a TTF, OTF or TTC font: %w", err)
	}
	if index >= c.NumFonts() {
		file.Close()
		return nil, nil, fmt.Errorf("font index %d: the file has %d fonts", index, c.NumFonts())
	}
	f, err := c.Font(index)
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	return f, file, nil
}

// strictReaderAt makes a short read an error, as io.ReaderAt requires: some
// afero files return fewer bytes and no error at the end of a file, which
// the font parser does not expect.
type strictReaderAt struct{ r io.ReaderAt }

func (s strictReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.r.ReadAt(p, off)
	if n < len(p) && err == nil {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// covers checks that f, or else the Latin font, has a glyph for every
// character of lang's catalogue. A CJK font may have no Latin at all (Droid
// Sans Fallback): the Go fonts draw it.
func covers(f, latin *opentype.Font, lang string) error {
	var buf sfnt.Buffer
	var missing []rune
	seen := map[rune]bool{}
	for _, s := range sampleScreens {
		w, err := display.Word(lang, s)
		if err != nil {
			return err
		}
		for _, l := range w.Lines {
			for _, sp := range l.Spans {
				if sp.Value {
					continue
				}
				for _, r := range sp.Text {
					if seen[r] || unicode.IsSpace(r) {
						continue
					}
					seen[r] = true
					if !hasGlyph(f, &buf, r) && !hasGlyph(latin, &buf, r) {
						missing = append(missing, r)
					}
				}
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no glyph for %d of the characters of the %s screens (%q…): not a CJK font", len(missing), lang, string(missing[:min(len(missing), 5)]))
	}
	return nil
}

func hasGlyph(f *opentype.Font, buf *sfnt.Buffer, r rune) bool {
	i, err := f.GlyphIndex(buf, r)
	return err == nil && i != 0
}

// sampleScreens word every message of a catalogue between them.
var sampleScreens = []display.Screen{
	{State: display.StateChecking, TerminalID: "T", Error: "e"},
	{State: display.StatePrompt, TerminalID: "T", SMSTo: "1", SMSBody: "B", Offline: true, Error: "e"},
	{State: display.StateUnknown, TerminalID: "T"},
	{State: display.StateBound, MSISDN: "1"},
	{State: display.StateBound},
	{State: display.StateError},
}

// close closes the font file.
func (fs *fontSet) close() error {
	if fs.file == nil {
		return nil
	}
	err := fs.file.Close()
	fs.file = nil
	return err
}

// face returns the chain of faces of the given pixel size.
func (fs *fontSet) face(px float64) (*chain, error) {
	k := fixed.Int26_6(px * 64)
	if c, ok := fs.faces[k]; ok {
		return c, nil
	}
	c := &chain{}
	for _, f := range fs.fonts {
		face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingNone})
		if err != nil {
			return nil, err
		}
		c.faces = append(c.faces, face)
	}
	if fs.faces == nil {
		fs.faces = map[fixed.Int26_6]*chain{}
	}
	fs.faces[k] = c
	return c, nil
}

// chain draws each character with the first of its faces that has it (or
// the first face's "missing" glyph).
type chain struct {
	faces []font.Face
}

func (c *chain) pick(r rune) font.Face {
	for _, f := range c.faces {
		if _, ok := f.GlyphAdvance(r); ok {
			return f
		}
	}
	return c.faces[0]
}

// advance returns the width of r, kerned against prev (-1 for none) when
// both come from the same face.
func (c *chain) advance(prev, r rune) fixed.Int26_6 {
	f := c.pick(r)
	a, _ := f.GlyphAdvance(r)
	if prev >= 0 && c.pick(prev) == f {
		a += f.Kern(prev, r)
	}
	return a
}

// glyph returns r's mask at dot, as font.Face.Glyph does.
func (c *chain) glyph(dot fixed.Point26_6, r rune) (image.Rectangle, image.Image, image.Point, bool) {
	dr, mask, mp, _, ok := c.pick(r).Glyph(dot, r)
	return dr, mask, mp, ok || mask != nil
}
