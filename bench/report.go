package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// table is the one markdown table the benchmark prints.
type table struct {
	rows   [][5]string
	failed int
	missed int
}

func (t *table) section(name string) {
	t.rows = append(t.rows, [5]string{"**" + name + "**", "", "", "", ""})
}

func (t *table) add(measure, value, target, verdict string) {
	t.rows = append(t.rows, [5]string{"", measure, value, target, verdict})
}

// check adds a figure with its target: met reports whether it is met.
func (t *table) check(measure, value, target string, met bool) {
	v := "yes"
	if !met {
		v = "**no**"
		t.missed++
	}
	t.add(measure, value, target, v)
}

func (t *table) fail(measure string, err error) {
	t.failed++
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	msg = strings.ReplaceAll(msg, "|", "\\|")
	if len(msg) > 400 {
		msg = msg[:400] + "…"
	}
	t.add(measure, "failed: "+msg, "", "")
}

func (t *table) markdown() string {
	var b strings.Builder
	b.WriteString("| Part | Measure | Value | Target | Met |\n|---|---|---:|---|---|\n")
	for _, r := range t.rows {
		for i := range r {
			r[i] = strings.ReplaceAll(r[i], "|", "\\|")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r[0], r[1], r[2], r[3], r[4])
	}
	return b.String()
}

// Number formats, with spaces between thousands as the issue writes them.
func fmtInt(v int64) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ' ')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func fmtRate(v float64) string { return fmtInt(int64(v + 0.5)) }

// mb is a size in kB (kibibytes, as the kernel reports it) in decimal megabytes.
func mb(kb int64) float64 { return float64(kb) * 1024 / 1e6 }

func fmtMB(kb int64) string { return fmt.Sprintf("%.1f MB", mb(kb)) }

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

// machine describes where the benchmark ran.
type machine struct {
	CPU, Kernel, Go, Date, Mosquitto, Telegraf string
	Cores                                      int
}

func describeMachine(telegraf string) machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().Format("2006-01-02 15:04 MST")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if m.CPU == "" {
		m.CPU = "unknown"
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		// The toolchain that builds bin/ (make build) may differ from the one running this.
		if f := strings.Fields(string(out)); len(f) >= 3 && f[2] != m.Go {
			m.Go += " (go in PATH: " + f[2] + ")"
		}
	}
	if p, err := findTool("mosquitto", ""); err == nil {
		out, _ := exec.Command(p, "-h").CombinedOutput()
		if l, _, _ := strings.Cut(string(out), "\n"); strings.Contains(l, "version") {
			m.Mosquitto = strings.TrimSpace(l)
		}
	}
	if telegraf != "" {
		if out, err := exec.Command(telegraf, "--version").Output(); err == nil {
			m.Telegraf = strings.TrimSpace(string(out))
		}
		// A custom build (go install -tags …) says "Telegraf unknown": its module version
		// is in the build information.
		if m.Telegraf == "" || strings.Contains(m.Telegraf, "unknown") {
			if out, err := exec.Command(goTool(), "version", "-m", telegraf).Output(); err == nil {
				for _, l := range strings.Split(string(out), "\n") {
					f := strings.Fields(l)
					if len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/influxdata/telegraf" {
						m.Telegraf = "Telegraf " + f[2] + " (custom build)"
					}
				}
			}
		}
	}
	return m
}
