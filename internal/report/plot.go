package report

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Size of the pictures: 12in x 9in, 1200x900 px for PNG.
const (
	PlotWidth  = 12 * vg.Inch
	PlotHeight = 9 * vg.Inch
	PlotDPI    = 100
)

// Voltage band drawn on the voltage panel: 230 V ±10 %.
const (
	VoltNominal = 230.0
	VoltLow     = 207.0
	VoltHigh    = 253.0
)

// maxPlotPoints is the number of points of a series above which it is thinned
// for drawing (min and max of each decimation bucket are kept, so peaks show).
const (
	maxPlotPoints  = 6000
	decimateBucket = 30 // seconds
)

var (
	colImport = color.RGBA{R: 0xc0, G: 0x39, B: 0x2b, A: 0xff}
	colExport = color.RGBA{R: 0x1e, G: 0x84, B: 0x49, A: 0xff}
	colTSIn   = color.RGBA{R: 0x5a, G: 0x0a, B: 0x00, A: 0xff}
	colTSOut  = color.RGBA{R: 0x00, G: 0x3d, B: 0x1a, A: 0xff}
	colPhase  = [3]color.Color{
		color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
		color.RGBA{R: 0xe6, G: 0x7e, B: 0x00, A: 0xff},
		color.RGBA{R: 0x8e, G: 0x44, B: 0xad, A: 0xff},
	}
	colBand     = color.NRGBA{R: 0x2e, G: 0xcc, B: 0x71, A: 0x38}
	colBandLine = color.RGBA{R: 0x1e, G: 0x84, B: 0x49, A: 0xff}
	colGrid     = color.Gray{Y: 0xdd}
)

// PlotFileName is the picture file of one device-day: base itself when there
// is a single device-day, otherwise base with _<device>_<YYYYMMDD> inserted
// before the extension (_<YYYYMMDD> when the device is unknown).
func PlotFileName(base string, k Key, several bool) string {
	if !several {
		return base
	}
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	tag := strings.ReplaceAll(k.Date, "-", "")
	if k.Device != "" {
		tag = safeName(k.Device) + "_" + tag
	}
	return stem + "_" + tag + ext
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
}

// CheckPlotName tells whether the name ends in .png or .svg.
func CheckPlotName(name string) error {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".svg":
		return nil
	}
	return fmt.Errorf("plot file %q: the name must end in .png or .svg", name)
}

// WritePlot draws the device-day into file, a PNG or an SVG by extension.
func WritePlot(d *Day, file string) (err error) {
	if err := CheckPlotName(file); err != nil {
		return err
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	err = RenderPlot(f, d, strings.TrimPrefix(strings.ToLower(filepath.Ext(file)), "."))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
		return fmt.Errorf("plot %s: %w", file, err)
	}
	return nil
}

// RenderPlot draws the device-day as "png" or "svg" to w.
func RenderPlot(w io.Writer, d *Day, format string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("drawing failed: %v", r)
		}
	}()
	var canvas vg.CanvasSizer
	var out io.WriterTo
	switch format {
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(PlotWidth, PlotHeight), vgimg.UseDPI(PlotDPI))
		canvas, out = c, vgimg.PngCanvas{Canvas: c}
	case "svg":
		c := vgsvg.New(PlotWidth, PlotHeight)
		canvas, out = c, c
	default:
		return errors.New("unknown picture format " + format)
	}
	drawDay(draw.New(canvas), d)
	_, err = out.WriteTo(w)
	return err
}

// dayStart is the Unix time of the day's midnight with the wall clock taken
// as UTC: X values are dayStart + second of the day, and labels formatted in
// UTC show the CSV's wall time unchanged.
func dayStart(date string) float64 {
	t, err := time.Parse("2006-01-02", date)
	if err != nil {
		return 0
	}
	return float64(t.Unix())
}

// panel is one plot with its legend entries.
type panel struct {
	p      *plot.Plot
	legend []legendItem
}

type legendItem struct {
	name  string
	thumb plot.Thumbnailer
}

func drawDay(dc draw.Canvas, d *Day) {
	x0 := dayStart(d.Summary.Date)
	dev := d.Summary.Device
	if dev == "" {
		dev = "-"
	}
	when := d.Summary.Date
	if t, err := time.Parse("2006-01-02", d.Summary.Date); err == nil {
		when += " (" + t.Format("Mon") + ")"
	}
	head := dev + "  " + when

	panels := []panel{powerPanel(d, x0, head), phasePanel(d, x0, head), voltPanel(d, x0, head)}
	lo, hi := viewWindow(d)
	rows := make([][]*plot.Plot, len(panels))
	for i, p := range panels {
		p.p.X.Min, p.p.X.Max = x0+float64(lo), x0+float64(hi)
		rows[i] = []*plot.Plot{p.p}
	}
	tiles := draw.Tiles{Rows: len(panels), Cols: 1,
		PadTop: vg.Points(6), PadBottom: vg.Points(4), PadLeft: vg.Points(6), PadRight: vg.Points(14),
		PadY: vg.Points(10)}
	cs := plot.Align(rows, tiles, dc)
	for i, p := range panels {
		p.p.Draw(cs[i][0])
		drawLegend(cs[i][0], p.p, p.legend)
	}
}

// viewWindow is the part of the day the X axes show, in seconds of the day: the whole day
// when the data covers half of it or more, else the hours with data (whole hours, at least
// two), so that a short recording is not a sliver at one end of a 24-hour axis.
func viewWindow(d *Day) (lo, hi int) {
	first, last := SecondsPerDay, -1
	for _, s := range d.Seconds {
		first, last = min(first, s.T), max(last, s.T)
	}
	for _, r := range d.TS {
		first, last = min(first, r.T), max(last, r.T)
	}
	if last < 0 {
		return 0, SecondsPerDay
	}
	lo, hi = first/3600*3600, (last/3600+1)*3600
	if hi-lo < 2*3600 {
		hi = min(lo+2*3600, SecondsPerDay)
		lo = hi - 2*3600
	}
	if hi-lo >= SecondsPerDay/2 {
		return 0, SecondsPerDay
	}
	return lo, hi
}

func newPanel(title, ylabel string, x0 float64) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.Padding = vg.Points(4)
	p.X.Label.Text = "time of day (HH:MM)"
	p.X.Label.TextStyle.Font.Size = vg.Points(10)
	p.Y.Label.Text = ylabel
	p.Y.Label.TextStyle.Font.Size = vg.Points(11)
	p.X.Tick.Label.Font.Size = vg.Points(10)
	p.Y.Tick.Label.Font.Size = vg.Points(10)
	p.X.Tick.Marker = clockTicks{x0: x0}
	p.Y.Tick.Marker = niceTicks{}
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font} {
		f.Variant = "Sans"
	}
	p.X.Min, p.X.Max = x0, x0+SecondsPerDay
	p.X.Padding, p.Y.Padding = 0, 0
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = colGrid, colGrid
	g.Vertical.Width, g.Horizontal.Width = vg.Points(0.5), vg.Points(0.5)
	p.Add(g)
	return p
}

// segments returns the points of quantity q as runs broken where data is
// missing for more than GapThreshold seconds, thinned when too many.
func segments(secs []Second, q int, x0 float64) []plotter.XYs {
	var segs []plotter.XYs
	var cur plotter.XYs
	last, n := -1, 0
	for _, s := range secs {
		v := s.V[q]
		if math.IsNaN(v) {
			continue
		}
		if last >= 0 && s.T-last > GapThreshold {
			segs = append(segs, cur)
			cur = nil
		}
		cur = append(cur, plotter.XY{X: x0 + float64(s.T), Y: v})
		last = s.T
		n++
	}
	if len(cur) > 0 {
		segs = append(segs, cur)
	}
	if n > maxPlotPoints {
		for i, s := range segs {
			segs[i] = decimate(s, x0)
		}
	}
	return segs
}

// decimate keeps, for each bucket of decimateBucket seconds, the lowest and
// the highest point in time order.
func decimate(s plotter.XYs, x0 float64) plotter.XYs {
	var out plotter.XYs
	for i := 0; i < len(s); {
		b := math.Floor((s[i].X - x0) / decimateBucket)
		lo, hi := i, i
		j := i
		for ; j < len(s) && math.Floor((s[j].X-x0)/decimateBucket) == b; j++ {
			if s[j].Y < s[lo].Y {
				lo = j
			}
			if s[j].Y > s[hi].Y {
				hi = j
			}
		}
		switch {
		case lo == hi:
			out = append(out, s[lo])
		case lo < hi:
			out = append(out, s[lo], s[hi])
		default:
			out = append(out, s[hi], s[lo])
		}
		i = j
	}
	return out
}

// segLines draws runs of points as separate polylines (nothing is drawn
// across a gap); a run of one point is drawn as a dot.
type segLines struct {
	segs  []plotter.XYs
	style draw.LineStyle
}

func (l *segLines) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	dot := draw.GlyphStyle{Color: l.style.Color, Radius: max(l.style.Width, vg.Points(1.5)), Shape: draw.CircleGlyph{}}
	for _, s := range l.segs {
		pts := make([]vg.Point, len(s))
		for i, xy := range s {
			pts[i] = vg.Point{X: trX(xy.X), Y: trY(xy.Y)}
		}
		if len(pts) == 1 {
			if c.Contains(pts[0]) {
				c.DrawGlyph(dot, pts[0])
			}
			continue
		}
		c.StrokeLines(l.style, c.ClipLinesXY(pts)...)
	}
}

func (l *segLines) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for _, s := range l.segs {
		for _, xy := range s {
			xmin, xmax = math.Min(xmin, xy.X), math.Max(xmax, xy.X)
			ymin, ymax = math.Min(ymin, xy.Y), math.Max(ymax, xy.Y)
		}
	}
	return
}

func (l *segLines) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	sty := l.style
	sty.Width = max(sty.Width, vg.Points(1.5))
	c.StrokeLine2(sty, c.Min.X, y, c.Max.X, y)
}

func (l *segLines) empty() bool { return len(l.segs) == 0 }

func lineOf(secs []Second, q int, x0 float64, clr color.Color, dashed bool) *segLines {
	l := &segLines{segs: segments(secs, q, x0),
		style: draw.LineStyle{Color: clr, Width: vg.Points(0.9)}}
	if dashed {
		l.style.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
	}
	return l
}

// yMax returns the largest value of the lines, 0 when none.
func yMax(ls ...*segLines) float64 {
	m := 0.0
	for _, l := range ls {
		if l.empty() {
			continue
		}
		_, _, _, hi := l.DataRange()
		m = math.Max(m, hi)
	}
	return m
}

func yMin(ls ...*segLines) float64 {
	m := 0.0
	for _, l := range ls {
		if l.empty() {
			continue
		}
		_, _, lo, _ := l.DataRange()
		m = math.Min(m, lo)
	}
	return m
}

// powerRange sets Y from min(0, data) to the data maximum with headroom for
// the legend.
func powerRange(p *plot.Plot, lo, hi float64) {
	if hi <= 0 {
		hi = 1
	}
	p.Y.Min = lo
	p.Y.Max = hi + (hi-lo)*0.18
}

func powerPanel(d *Day, x0 float64, head string) panel {
	title := head + " - import / export power, per-second mean"
	if len(d.Seconds) == 0 {
		title += " (no per-second data)"
	}
	p := newPanel(title, "power (kW)", x0)
	pi := lineOf(d.Seconds, QPi, x0, colImport, false)
	po := lineOf(d.Seconds, QPo, x0, colExport, false)
	p.Add(pi, po)
	pan := panel{p: p, legend: []legendItem{{"import Pi", pi}, {"export Po", po}}}
	hi := yMax(pi, po)

	var tsIn, tsOut plotter.XYs
	for _, r := range d.TS {
		x := x0 + float64(r.T)
		// Zeros are not marked: the line shows them and the marks would
		// pile up along the axis.
		if r.Pi > 0 {
			tsIn = append(tsIn, plotter.XY{X: x, Y: r.Pi})
			hi = math.Max(hi, r.Pi)
		}
		if r.Po > 0 {
			tsOut = append(tsOut, plotter.XY{X: x, Y: r.Po})
			hi = math.Max(hi, r.Po)
		}
	}
	if sc, err := plotter.NewScatter(tsIn); err == nil && len(tsIn) > 0 {
		sc.GlyphStyle = draw.GlyphStyle{Color: colTSIn, Radius: vg.Points(2.2), Shape: draw.RingGlyph{}}
		p.Add(sc)
		pan.legend = append(pan.legend, legendItem{"TS summary Pi", sc})
	}
	if sc, err := plotter.NewScatter(tsOut); err == nil && len(tsOut) > 0 {
		sc.GlyphStyle = draw.GlyphStyle{Color: colTSOut, Radius: vg.Points(2.6), Shape: draw.PyramidGlyph{}}
		p.Add(sc)
		pan.legend = append(pan.legend, legendItem{"TS summary Po", sc})
	}
	powerRange(p, yMin(pi, po), hi)
	return pan
}

func phasePanel(d *Day, x0 float64, head string) panel {
	p := newPanel(head+" - power per phase (import solid, export dashed)", "power (kW)", x0)
	pan := panel{p: p}
	var all []*segLines
	for ph := range 3 {
		l := lineOf(d.Seconds, QP1i+ph, x0, colPhase[ph], false)
		p.Add(l)
		all = append(all, l)
		pan.legend = append(pan.legend, legendItem{fmt.Sprintf("P%di L%d import", ph+1, ph+1), l})
	}
	for ph := range 3 {
		l := lineOf(d.Seconds, QP1o+ph, x0, colPhase[ph], true)
		if yMax(l) == 0 && yMin(l) == 0 {
			continue // no export on this phase: keep the picture light
		}
		p.Add(l)
		all = append(all, l)
		pan.legend = append(pan.legend, legendItem{fmt.Sprintf("P%do L%d export", ph+1, ph+1), l})
	}
	powerRange(p, yMin(all...), yMax(all...))
	return pan
}

func voltPanel(d *Day, x0 float64, head string) panel {
	p := newPanel(head+" - voltage per phase, 230 V ±10 % band (207-253 V)", "voltage (V)", x0)
	pan := panel{p: p}
	band, err := plotter.NewPolygon(plotter.XYs{
		{X: x0, Y: VoltLow}, {X: x0 + SecondsPerDay, Y: VoltLow},
		{X: x0 + SecondsPerDay, Y: VoltHigh}, {X: x0, Y: VoltHigh}})
	if err == nil {
		band.Color = colBand
		band.LineStyle.Width = 0
		p.Add(band)
	}
	limit := draw.LineStyle{Color: colBandLine, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
	nominal := draw.LineStyle{Color: color.Gray{Y: 0x80}, Width: vg.Points(0.7), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}
	for _, h := range []struct {
		y   float64
		sty draw.LineStyle
	}{{VoltLow, limit}, {VoltHigh, limit}, {VoltNominal, nominal}} {
		l := &segLines{segs: []plotter.XYs{{{X: x0, Y: h.y}, {X: x0 + SecondsPerDay, Y: h.y}}}, style: h.sty}
		p.Add(l)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for ph := range 3 {
		l := lineOf(d.Seconds, QU1+ph, x0, colPhase[ph], false)
		p.Add(l)
		pan.legend = append(pan.legend, legendItem{fmt.Sprintf("U%d L%d", ph+1, ph+1), l})
		if !l.empty() {
			_, _, a, b := l.DataRange()
			lo, hi = math.Min(lo, a), math.Max(hi, b)
		}
	}
	pan.legend = append(pan.legend, legendItem{"207-253 V band", bandThumb{}})
	// Always show the band, with room above it for the legend.
	p.Y.Min = math.Min(VoltLow-7, lo-3)
	p.Y.Max = math.Max(VoltHigh+9, hi+9)
	return pan
}

// bandThumb is the legend picture of the voltage band.
type bandThumb struct{}

func (bandThumb) Thumbnail(c *draw.Canvas) {
	pts := []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y},
		{X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}}
	c.FillPolygon(colBand, pts)
	sty := draw.LineStyle{Color: colBandLine, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}
	c.StrokeLine2(sty, c.Min.X, c.Min.Y, c.Max.X, c.Min.Y)
	c.StrokeLine2(sty, c.Min.X, c.Max.Y, c.Max.X, c.Max.Y)
}

// drawLegend draws the entries on one row in the top right corner of the
// data area, over a light background so that lines under it stay readable.
func drawLegend(c draw.Canvas, p *plot.Plot, items []legendItem) {
	if len(items) == 0 {
		return
	}
	da := p.DataCanvas(c)
	fnt := font.From(plot.DefaultFont, vg.Points(10))
	fnt.Variant = "Sans"
	sty := text.Style{Color: color.Black, Font: fnt, Handler: plot.DefaultTextHandler, YAlign: draw.YCenter}
	thumbW, gap, sep, pad := vg.Points(20), vg.Points(4), vg.Points(12), vg.Points(5)
	h := sty.Height("Mg") + 2*pad
	w := pad
	for i, it := range items {
		if i > 0 {
			w += sep
		}
		w += thumbW + gap + sty.Width(it.name)
	}
	w += pad
	box := vg.Rectangle{Max: vg.Point{X: da.Max.X - vg.Points(6), Y: da.Max.Y - vg.Points(4)}}
	box.Min = vg.Point{X: box.Max.X - w, Y: box.Max.Y - h}
	c.FillPolygon(color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xe0}, []vg.Point{
		box.Min, {X: box.Max.X, Y: box.Min.Y}, box.Max, {X: box.Min.X, Y: box.Max.Y}})
	c.StrokeLines(draw.LineStyle{Color: color.Gray{Y: 0xaa}, Width: vg.Points(0.5)}, []vg.Point{
		box.Min, {X: box.Max.X, Y: box.Min.Y}, box.Max, {X: box.Min.X, Y: box.Max.Y}, box.Min})
	x := box.Min.X + pad
	yc := (box.Min.Y + box.Max.Y) / 2
	for _, it := range items {
		tc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: x, Y: yc - vg.Points(4)}, Max: vg.Point{X: x + thumbW, Y: yc + vg.Points(4)}}}
		it.thumb.Thumbnail(&tc)
		x += thumbW + gap
		c.FillText(sty, vg.Point{X: x, Y: yc}, it.name)
		x += sty.Width(it.name) + sep
	}
}

// clockTicks puts ticks on round times of day and labels them HH:MM with
// plot.TimeTicks in UTC (the wall-clock convention of dayStart); the end of
// the day is labelled 24:00.
type clockTicks struct{ x0 float64 }

func (t clockTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.TimeTicks{Ticker: stepTicks{}, Format: "15:04", Time: plot.UTCUnixTime}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" && ticks[i].Value == t.x0+SecondsPerDay {
			ticks[i].Label = "24:00"
		}
	}
	return ticks
}

// stepTicks places major ticks on a round step giving at most 13 labels and
// minor ticks in between.
type stepTicks struct{}

func (stepTicks) Ticks(min, max float64) []plot.Tick {
	span := max - min
	if !(span > 0) || math.IsInf(span, 0) {
		return nil
	}
	steps := []float64{1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if span/s <= 12 {
			step = s
			break
		}
	}
	minor := step / 2
	if step == 10800 {
		minor = 3600
	}
	var ticks []plot.Tick
	for v := math.Ceil(min/minor) * minor; v <= max; v += minor {
		label := ""
		if math.Mod(v, step) == 0 {
			label = "x" // replaced by TimeTicks
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
	}
	return ticks
}

// niceTicks labels about eight round values (1, 2, 2.5 or 5 times a power of
// ten) with just the decimals they need.
type niceTicks struct{}

func (niceTicks) Ticks(min, max float64) []plot.Tick {
	span := max - min
	if !(span > 0) || math.IsInf(span, 0) {
		return nil
	}
	raw := span / 8
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	decimals := 0
	if step < 1 {
		decimals = int(math.Ceil(-math.Log10(step) - 1e-9))
		if math.Abs(math.Round(step*math.Pow(10, float64(decimals)))-step*math.Pow(10, float64(decimals))) > 1e-9 {
			decimals++
		}
	}
	var ticks []plot.Tick
	for i := math.Ceil(min / step * 2); i/2*step <= max+1e-9*span; i++ {
		v := i / 2 * step
		label := ""
		if math.Mod(i, 2) == 0 {
			label = strconv.FormatFloat(v, 'f', decimals, 64)
			if strings.Trim(label, "-0.") == "" {
				label = strconv.FormatFloat(0, 'f', decimals, 64)
			}
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
	}
	return ticks
}
