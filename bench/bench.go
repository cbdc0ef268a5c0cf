package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// bench runs every part and writes the table. A part that fails is reported as failed in
// the table and the others still run; the exit status is then 1.
func bench(o options) (int, error) {
	began := time.Now()
	root, err := repoRoot()
	if err != nil {
		return 1, err
	}
	outDir := filepath.Join(root, "bench", "out")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return 1, err
	}
	if o.tmpBase == "" {
		o.tmpBase = os.TempDir()
	}
	bins, err := findBinaries(root, o)
	if err != nil {
		return 1, err
	}
	mach := describeMachine(bins.telegraf)
	t := &table{}
	t.section("Machine")
	t.add("CPU", fmt.Sprintf("%s, %d cores", mach.CPU, mach.Cores), "", "")
	t.add("Go, kernel", mach.Go+", Linux "+mach.Kernel, "", "")
	t.add("mosquitto, Telegraf", orNA(mach.Mosquitto)+", "+orNA(mach.Telegraf), "", "")
	t.add("date", mach.Date, "", "")
	t.add("command", "`"+commandLine()+"`", "", "")
	t.add("temporary output folders", fmt.Sprintf("under %s (%s)", o.tmpBase, fsType(o.tmpBase)), "", "")
	t.add("load average at the start (1, 5, 15 min)", loadAvg(), "", "")
	for _, n := range bins.notes {
		t.add("note", n, "", "")
	}

	// Captures.
	logf("generating the captures in %s", outDir)
	gen := func(name string, n, devices int) (captureInfo, error) {
		if err := checkInterrupted(); err != nil {
			return captureInfo{}, err
		}
		return generate(filepath.Join(outDir, name), n, devices)
	}
	capN, err := gen(fmt.Sprintf("replay-%d.txt", o.nReplay), o.nReplay, 1)
	if err != nil {
		return 1, fmt.Errorf("generating the capture: %w", err)
	}
	t.section(fmt.Sprintf("Replay — `mqtttocsv replay --no-progress --out-dir TMP capture`, median of %d runs", o.runs))
	t.add("capture", fmt.Sprintf("%s messages, 1 device, %.1f MB, %d summaries, %s of data (bench/out/%s)",
		fmtInt(int64(capN.Messages)), float64(capN.Bytes)/1e6, capN.Summaries, (time.Duration(capN.Seconds)*time.Second).String(), filepath.Base(capN.Path)), "", "")

	var replayN *replayResult
	if !o.skip["replay"] {
		logf("replay: %d messages, %d runs", capN.Messages, o.runs)
		r, err := replay(bins.mqtttocsv, capN, o.runs, o.tmpBase)
		if err != nil {
			if errors.Is(err, errInterrupted) {
				return 130, err
			}
			t.fail("replay", err)
		} else {
			replayN = &r
			t.check("messages/s", fmtRate(r.msgsPerSec()), "≥ 1 500 000", r.msgsPerSec() >= 1_500_000)
			t.check("MB/s", fmt.Sprintf("%.1f", r.mbPerSec()), "≈ 100", r.mbPerSec() >= 100)
			t.add("wall time (min – max)", fmt.Sprintf("%s (%s – %s)", fmtDur(r.Wall), fmtDur(r.MinWall), fmtDur(r.MaxWall)), "", "")
			t.add("CPU user+sys (median); messages per CPU second", fmt.Sprintf("%.2f s, %.0f%% of wall; %s", r.CPU, 100*r.CPU/r.Wall.Seconds(), fmtRate(float64(capN.Messages)/r.CPU)), "", "")
			t.add("output", r.Rows, "", "")
			t.check(fmt.Sprintf("peak RSS at N = %s (largest of the runs)", fmtInt(int64(capN.Messages))), fmtMB(r.PeakKB), "≤ 30 MB", mb(r.PeakKB) <= 30)
		}
		// The same with the output on tmpfs: what the disk (fsync at every flush) costs.
		if shm := "/dev/shm"; replayN != nil && fsType(o.tmpBase) != "tmpfs file system" && dirWritable(shm) {
			logf("replay: %d messages, output on %s, %d runs", capN.Messages, shm, o.runs)
			r, err := replay(bins.mqtttocsv, capN, o.runs, shm)
			if err != nil {
				if errors.Is(err, errInterrupted) {
					return 130, err
				}
				t.fail("replay on tmpfs", err)
			} else {
				t.add("messages/s, MB/s with the output on tmpfs (/dev/shm: no disk, fsync free)", fmt.Sprintf("%s, %.1f (CPU %.2f s)", fmtRate(r.msgsPerSec()), r.mbPerSec(), r.CPU), "", "")
			}
		}
		small, err := gen(fmt.Sprintf("replay-%d.txt", o.nReplay/10), o.nReplay/10, 1)
		if err == nil {
			logf("replay: %d messages (N/10), %d runs", small.Messages, o.runs)
			var r10 replayResult
			r10, err = replay(bins.mqtttocsv, small, o.runs, o.tmpBase)
			if err == nil {
				t.add(fmt.Sprintf("peak RSS at N/10 = %s", fmtInt(int64(small.Messages))), fmtMB(r10.PeakKB), "", "")
				t.add("messages/s at N/10", fmtRate(r10.msgsPerSec()), "", "")
				if replayN != nil {
					growth := float64(replayN.PeakKB)/float64(r10.PeakKB) - 1
					t.check("peak RSS growth from N/10 to N", fmt.Sprintf("%+.1f %%", 100*growth), "≤ 10 %", growth <= 0.10)
				}
			}
		}
		if err != nil {
			if errors.Is(err, errInterrupted) {
				return 130, err
			}
			t.fail("replay N/10", err)
		}
	}

	if !o.skip["devices"] {
		t.section(fmt.Sprintf("Replay by number of devices — same N = %s, every device sends its 18 messages/s, interleaved round-robin", fmtInt(int64(o.nReplay))))
		for _, d := range o.devices {
			var r replayResult
			var err error
			if d == 1 && replayN != nil {
				r = *replayN
			} else {
				c := capN
				if d != 1 {
					c, err = gen(fmt.Sprintf("replay-%d-dev%d.txt", o.nReplay, d), o.nReplay, d)
				}
				if err == nil {
					logf("replay: %d messages from %d devices, %d runs", c.Messages, d, o.runs)
					r, err = replay(bins.mqtttocsv, c, o.runs, o.tmpBase)
				}
			}
			if err != nil {
				if errors.Is(err, errInterrupted) {
					return 130, err
				}
				t.fail(fmt.Sprintf("%d devices", d), err)
				continue
			}
			t.add(fmt.Sprintf("%s devices: messages/s, MB/s, peak RSS", fmtInt(int64(d))),
				fmt.Sprintf("%s msg/s, %.1f MB/s, %s", fmtRate(r.msgsPerSec()), r.mbPerSec(), fmtMB(r.PeakKB)), "", "")
			t.add(fmt.Sprintf("%s devices: data time, output", fmtInt(int64(d))),
				fmt.Sprintf("%s; %s", (time.Duration(r.Capture.Seconds)*time.Second).String(), r.Rows), "", "")
		}
	}

	if !o.skip["profile"] {
		logf("in-process replay with profiles")
		pc := capN
		var err error
		if o.profileDevices != 1 {
			pc, err = gen(fmt.Sprintf("replay-%d-dev%d.txt", o.nReplay, o.profileDevices), o.nReplay, o.profileDevices)
		}
		t.section(fmt.Sprintf("In-process replay — internal/capture + internal/engine driven as `replay` does (bench/profile.go), %s messages, %s device(s)", fmtInt(int64(pc.Messages)), fmtInt(int64(pc.Devices))))
		var p inProcess
		if err == nil {
			p, err = profileReplay(pc, o.tmpBase, outDir)
		}
		if err != nil {
			if errors.Is(err, errInterrupted) {
				return 130, err
			}
			t.fail("in-process replay", err)
		} else {
			t.add("messages/s (one run, no process start)", fmtRate(float64(p.Messages)/p.Wall.Seconds()), "", "")
			t.add("time per message: wall, CPU", fmt.Sprintf("%.0f ns, %.0f ns", float64(p.Wall.Nanoseconds())/float64(p.Messages), float64(p.CPU.Nanoseconds())/float64(p.Messages)), "", "")
			t.add("allocations per message", fmt.Sprintf("%.2f allocs, %.0f bytes", p.Mallocs, p.Bytes), "", "")
			t.add("garbage collections in the run", fmt.Sprint(p.GCs), "", "")
			t.add("profiles", fmt.Sprintf("bench/out/%s (%d runs), bench/out/%s (base: replay-allocs-base.prof)", filepath.Base(p.CPUProfile), p.ProfileRuns, filepath.Base(p.AllocProf)), "", "")
			profileText = p
		}
	}

	if !o.skip["live"] {
		logf("live: %d messages to mosquitto_sub, mqtttocsv and Telegraf", o.nLive)
		liveRound(t, o, bins, outDir)
		if interrupted.Load() {
			return 130, errInterrupted
		}
	}
	if !o.skip["liveprofile"] {
		n := min(o.nLive, 100_000)
		logf("in-process live path with the CPU profiler: %d messages", n)
		t.section(fmt.Sprintf("In-process live path — internal/mqttclient + internal/engine wired as live.go does, %s messages from a publisher process (bench/liveprofile.go)", fmtInt(int64(n))))
		c, err := generate(filepath.Join(outDir, fmt.Sprintf("live-%d.txt", n)), n, 1)
		var lp liveProfile
		if err == nil {
			lp, err = profileLive(c.Path, n, o.window, o.tmpBase, outDir)
		}
		if err != nil {
			if errors.Is(err, errInterrupted) {
				return 130, err
			}
			t.fail("in-process live", err)
		} else {
			t.add("CPU per million messages (whole process, profiler on)", fmt.Sprintf("%.2f s", lp.CPU.Seconds()/float64(n)*1e6), "", "")
			t.add("allocations per message", fmt.Sprintf("%.2f allocs, %.0f bytes", lp.Mallocs, lp.Bytes), "", "")
			t.add("profile", "bench/out/"+filepath.Base(lp.CPUProfile), "", "")
			liveProfText = lp
		}
	}
	if !o.skip["telegraf"] {
		logf("Telegraf path: %d messages to Telegraf + tasmota-csv and Telegraf + cat", o.nLive)
		telegrafRound(t, o, bins, root, outDir)
		if interrupted.Load() {
			return 130, errInterrupted
		}
	}
	if !o.skip["latency"] {
		logf("latency: %d summary messages", o.nLatency)
		latencyRound(t, o, bins)
		if interrupted.Load() {
			return 130, errInterrupted
		}
	}
	t.section("Run")
	t.add("duration of the benchmark", fmtDur(time.Since(began).Round(time.Second)), "", "")
	t.add("load average at the end (1, 5, 15 min)", loadAvg(), "", "")
	t.add("targets missed, parts failed", fmt.Sprintf("%d, %d", t.missed, t.failed), "", "")

	doc := "# mqtttocsv benchmark results\n\nWritten by `make bench` (bench/, see bench/README.md for what each row means).\n\n" + t.markdown()
	if profileText.TopCPU != "" {
		doc += "\n## Replay CPU profile (in-process, top 25 by flat time)\n\n```\n" + profileText.TopCPU + "\n```\n"
	}
	if profileText.TopAlloc != "" {
		doc += "\n## Replay allocations (in-process, alloc_space, top 15)\n\n```\n" + profileText.TopAlloc + "\n```\n"
	}
	if profileText.TopAllocN != "" {
		doc += "\n## Replay allocations (in-process, alloc_objects, top 15)\n\n```\n" + profileText.TopAllocN + "\n```\n"
	}
	if liveProfText.Top != "" {
		doc += "\n## Live path CPU profile (in-process, top 25 by flat time)\n\n```\n" + liveProfText.Top + "\n```\n"
		doc += "\n## Live path CPU profile (in-process, top 40 by cumulative time)\n\n```\n" + liveProfText.TopCum + "\n```\n"
	}
	fmt.Println(doc)
	if o.results != "-" {
		p := o.results
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			return 1, err
		}
		logf("wrote %s", p)
	}
	if t.failed > 0 {
		return 1, nil
	}
	return 0, nil
}

var (
	profileText  inProcess
	liveProfText liveProfile
)

// loadAvg is the first three fields of /proc/loadavg: other work on the machine skews
// every figure.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

func dirWritable(d string) bool {
	f, err := os.CreateTemp(d, "bench-probe-")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}

func orNA(s string) string {
	if s == "" {
		return "not available"
	}
	return s
}

func commandLine() string {
	args := []string{"go run ./bench"}
	for _, a := range os.Args[1:] {
		if strings.ContainsAny(a, " '\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		args = append(args, a)
	}
	return strings.Join(args, " ")
}

// fsType names the file system of a folder, from /proc/mounts (the longest mount prefix).
func fsType(dir string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "file system unknown"
	}
	abs, _ := filepath.Abs(dir)
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	best, typ := "", "unknown"
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, typ = mp, f[2]
		}
	}
	return typ + " file system"
}

// roundFailer reports a round's error, unless the run was interrupted (Ctrl+C).
func roundFailer(t *table, round string) func(error) {
	return func(err error) {
		if !errors.Is(err, errInterrupted) {
			t.fail(round, err)
		}
	}
}

// roundSetup is what the live rounds share: the live capture, a temporary folder and a
// mosquitto that can queue everything; cleanup stops the broker and removes the folder.
func roundSetup(o options, outDir, prefix string) (capL captureInfo, dir string, m *mosquitto, cleanup func(), err error) {
	capL, err = generate(filepath.Join(outDir, fmt.Sprintf("live-%d.txt", o.nLive)), o.nLive, 1)
	if err != nil {
		return capL, "", nil, nil, err
	}
	if dir, err = newTempDir(prefix); err != nil {
		return capL, "", nil, nil, err
	}
	if m, err = startMosquitto(dir, 2*o.nLive+1000); err != nil {
		removeTempDir(dir)
		return capL, "", nil, nil, err
	}
	return capL, dir, m, func() { m.p.stop(5 * time.Second); removeTempDir(dir) }, nil
}

// liveRound: mosquitto_sub, mqtttocsv and Telegraf alone subscribed to the same broker.
func liveRound(t *table, o options, bins binaries, outDir string) {
	t.section(fmt.Sprintf("Live — %s messages published at QoS 1 (window %d) to mosquitto_sub, mqtttocsv (twice: default and 1 s flush interval) and Telegraf alone, subscribed together", fmtInt(int64(o.nLive)), o.window))
	fail := roundFailer(t, "live round")
	capL, dir, m, cleanup, err := roundSetup(o, outDir, "bench-live-")
	if err != nil {
		fail(err)
		return
	}
	defer cleanup()
	sub, err := startMosquittoSub(m, "benchsub", o.nLive)
	if err != nil {
		fail(err)
		return
	}
	defer sub.p.stop(5 * time.Second)
	csvOut := filepath.Join(dir, "mqtttocsv")
	csv, st, err := startMqtttocsv(bins.mqtttocsv, m, csvOut, "benchcsv", "mqtttocsv")
	if err != nil {
		fail(err)
		return
	}
	defer csv.p.stop(15 * time.Second)
	// The same with a 1 s flush interval: the round publishes hours of data time in
	// seconds, so with the default 60 s the per-second rows pile up in memory; this one
	// shows the memory and CPU when they are written about as a real meter's would be.
	csv1, st1, err := startMqtttocsv(bins.mqtttocsv, m, filepath.Join(dir, "mqtttocsv-1s"), "benchcsv1s", "mqtttocsv --flush-interval 1s", "--flush-interval", "1s")
	if err != nil {
		fail(err)
		return
	}
	defer csv1.p.stop(15 * time.Second)
	cons := []*consumer{sub, csv, csv1}
	var tg *consumer
	if bins.telegraf != "" {
		tg, err = startTelegraf(bins.telegraf, m, dir, telegrafSetup{name: "Telegraf", clientID: "benchtelegraf", parser: ownParserOr(bins)})
		if err != nil {
			fail(err)
			return
		}
		defer tg.p.stop(15 * time.Second)
		cons = append(cons, tg)
	}
	r, err := runRound(m, cons, capL.Path, o.nLive, o.window, o.timeout)
	if err != nil {
		fail(err)
		return
	}
	n := o.nLive
	t.add("publisher", fmt.Sprintf("%s msg/s acknowledged (%s for %s messages, %.1f MB)", fmtRate(float64(r.Published)/r.PublishWall.Seconds()), fmtDur(r.PublishWall), fmtInt(int64(r.Published)), float64(capL.Bytes)/1e6), "", "")
	t.add("mosquitto (broker) CPU", fmt.Sprintf("%.2f s (%.2f s per million messages), peak RSS %s", r.Broker.CPU, r.Broker.CPU/float64(n)*1e6, fmtMB(r.Broker.PeakKB)), "", "")
	for _, c := range cons {
		t.add(c.name+": CPU per million messages", fmt.Sprintf("%.2f s (%.2f s in all)", c.cpuPerM(n), c.after.CPU-c.before.CPU), "", "")
		t.add(c.name+": peak RSS, all consumed after", fmt.Sprintf("%s, %s", fmtMB(c.after.PeakKB), fmtDur(c.doneAfter)), "", "")
	}
	t.add("per-second rows held in memory when all were consumed", fmt.Sprintf("mqtttocsv %d (written at the next flush tick, every 60 s); with --flush-interval 1s: %d", st.buffered.Load(), st1.buffered.Load()), "", "")
	for _, x := range []struct {
		c  *consumer
		st *mqtttocsvStatus
	}{{csv, st}, {csv1, st1}} {
		if err := x.c.p.stop(15 * time.Second); err != nil {
			t.fail(x.c.name+" stop", err)
		} else if line := x.st.stopLine(); line != "" {
			t.add(x.c.name+" exit summary", line, "", "")
		}
	}
	if sub.cpuPerM(n) > 0 {
		ratio := csv.cpuPerM(n) / sub.cpuPerM(n)
		t.check("CPU ratio mqtttocsv / mosquitto_sub", fmt.Sprintf("%.2f", ratio), "≤ 1.3", ratio <= 1.3)
	}
	if tg != nil && tg.cpuPerM(n) > 0 {
		ratio := csv.cpuPerM(n) / tg.cpuPerM(n)
		t.check("CPU ratio mqtttocsv / Telegraf", fmt.Sprintf("%.2f", ratio), "≤ 0.5", ratio <= 0.5)
	} else if tg == nil {
		t.add("CPU ratio mqtttocsv / Telegraf", "not available (no bin/telegraf: make telegraf)", "≤ 0.5", "")
	}
	t.check("mqtttocsv peak RSS", fmtMB(csv.after.PeakKB), "≤ 20 MB", mb(csv.after.PeakKB) <= 20)
}

func ownParserOr(bins binaries) string {
	if sampleParser != "" {
		return sampleParser
	}
	return ownParser
}

var sampleParser, sampleParserPath string

// telegrafRound: Telegraf with processors.execd running tasmota-csv, and the same Telegraf
// with cat, subscribed together.
func telegrafRound(t *table, o options, bins binaries, root, outDir string) {
	sampleParserPath, sampleParser = findSampleParser(root)
	src := "the benchmark's own json_v2 setup (no sample.conf with inputs.mqtt_consumer.json_v2 found)"
	if sampleParserPath != "" {
		src = "json_v2 tables of " + sampleParserPath
	}
	t.section(fmt.Sprintf("Telegraf path — %s messages; mqtt_consumer + json_v2 → processors.execd → outputs.file (csv); both Telegrafs subscribed together", fmtInt(int64(o.nLive))))
	t.add("parser", src, "", "")
	if bins.telegraf == "" {
		t.add("Telegraf with tasmota-csv / with cat", "not available (no bin/telegraf: make telegraf)", "≤ 1.15", "")
		return
	}
	if bins.tasmotaCSV == "" {
		t.add("Telegraf with tasmota-csv / with cat", "not available (no cmd/tasmota-csv yet)", "≤ 1.15", "")
		return
	}
	fail := roundFailer(t, "Telegraf round")
	capL, dir, m, cleanup, err := roundSetup(o, outDir, "bench-telegraf-")
	if err != nil {
		fail(err)
		return
	}
	defer cleanup()
	plugOut := filepath.Join(dir, "tasmota-csv")
	plugConf := filepath.Join(dir, "tasmota-csv.conf")
	if err := os.WriteFile(plugConf, []byte(fmt.Sprintf("[[processors.tasmota_csv]]\n  out_dir = %q\n", plugOut)), 0o644); err != nil {
		fail(err)
		return
	}
	withPlugin, err := startTelegraf(bins.telegraf, m, dir, telegrafSetup{name: "Telegraf + tasmota-csv", clientID: "benchtg-tasmota", parser: ownParserOr(bins),
		execd: []string{bins.tasmotaCSV, "-config", plugConf}})
	if err != nil {
		fail(err)
		return
	}
	defer withPlugin.p.stop(15 * time.Second)
	catBin, err := findTool("cat", "coreutils")
	if err != nil {
		fail(err)
		return
	}
	withCat, err := startTelegraf(bins.telegraf, m, dir, telegrafSetup{name: "Telegraf + cat", clientID: "benchtg-cat", parser: ownParserOr(bins), execd: []string{catBin}})
	if err != nil {
		fail(err)
		return
	}
	defer withCat.p.stop(15 * time.Second)
	n := o.nLive
	r, err := runRound(m, []*consumer{withPlugin, withCat}, capL.Path, n, o.window, o.timeout)
	if err != nil {
		fail(err)
		return
	}
	t.add("publisher", fmt.Sprintf("%s msg/s acknowledged", fmtRate(float64(r.Published)/r.PublishWall.Seconds())), "", "")
	for _, c := range []*consumer{withPlugin, withCat} {
		t.add(c.name+": Telegraf CPU per million messages", fmt.Sprintf("%.2f s", c.cpuPerM(n)), "", "")
		t.add(c.name+": plugin CPU per million messages", fmt.Sprintf("%.2f s", c.pluginCPUPerM(n)), "", "")
		t.add(c.name+": peak RSS Telegraf, plugin; all consumed after", fmt.Sprintf("%s, %s; %s", fmtMB(c.after.PeakKB), fmtMB(c.pluginAfter.PeakKB), fmtDur(c.doneAfter)), "", "")
	}
	if withCat.cpuPerM(n) > 0 {
		ratio := withPlugin.cpuPerM(n) / withCat.cpuPerM(n)
		t.check("Telegraf CPU ratio with tasmota-csv / with cat", fmt.Sprintf("%.2f", ratio), "≤ 1.15", ratio <= 1.15)
	}
	if withCat.pluginCPUPerM(n) > 0 {
		t.add("plugin CPU ratio tasmota-csv / cat", fmt.Sprintf("%.2f", withPlugin.pluginCPUPerM(n)/withCat.pluginCPUPerM(n)), "", "")
	}
	tot := func(c *consumer) float64 { return c.cpuPerM(n) + c.pluginCPUPerM(n) }
	if tot(withCat) > 0 {
		t.add("total CPU ratio (Telegraf + plugin) tasmota-csv / cat", fmt.Sprintf("%.2f", tot(withPlugin)/tot(withCat)), "", "")
	}
	// What tasmota-csv wrote, once stopped (end of stdin writes the last rows).
	if err := withPlugin.p.stop(15 * time.Second); err != nil {
		t.fail("Telegraf + tasmota-csv stop", err)
		return
	}
	ts, tsFiles := countRows(plugOut, "ts_summary_")
	en, enFiles := countRows(plugOut, "energie_")
	t.check("tasmota-csv output: TS rows = summaries published", fmt.Sprintf("%d TS rows (%d files), %d energie rows (%d files); %d summaries", ts, tsFiles, en, enFiles, capL.Summaries), "equal", ts == capL.Summaries)
}

// latencyRound: publication → TS row on disk, for mqtttocsv and for Telegraf + tasmota-csv.
func latencyRound(t *table, o options, bins binaries) {
	t.section(fmt.Sprintf("Latency — publish a summary at QoS 1 → its row in the TS file (inotify), %s messages one at a time, 2 ms apart", fmtInt(int64(o.nLatency))))
	type target struct {
		name  string
		start func(m *mosquitto, dir string) (*proc, string, string, error) // process, out dir, client id
	}
	targets := []target{{"mqtttocsv", func(m *mosquitto, dir string) (*proc, string, string, error) {
		out := filepath.Join(dir, "out")
		c, _, err := startMqtttocsv(bins.mqtttocsv, m, out, "benchlat-csv", "mqtttocsv")
		if err != nil {
			return nil, "", "", err
		}
		return c.p, out, c.clientID, nil
	}}}
	if bins.telegraf != "" && bins.tasmotaCSV != "" {
		targets = append(targets, target{"Telegraf + tasmota-csv", func(m *mosquitto, dir string) (*proc, string, string, error) {
			out := filepath.Join(dir, "out")
			conf := filepath.Join(dir, "tasmota-csv.conf")
			if err := os.WriteFile(conf, []byte(fmt.Sprintf("[[processors.tasmota_csv]]\n  out_dir = %q\n", out)), 0o644); err != nil {
				return nil, "", "", err
			}
			c, err := startTelegraf(bins.telegraf, m, dir, telegrafSetup{name: "Telegraf + tasmota-csv", clientID: "benchlat-tg", parser: ownParserOr(bins),
				execd: []string{bins.tasmotaCSV, "-config", conf}})
			if err != nil {
				return nil, "", "", err
			}
			return c.p, out, c.clientID, nil
		}})
	} else {
		t.add("Telegraf + tasmota-csv", "not available", "", "")
	}
	for _, tg := range targets {
		if interrupted.Load() {
			return
		}
		err := func() error {
			dir, err := newTempDir("bench-latency-")
			if err != nil {
				return err
			}
			defer removeTempDir(dir)
			m, err := startMosquitto(dir, 100000)
			if err != nil {
				return err
			}
			defer m.p.stop(5 * time.Second)
			p, out, id, err := tg.start(m, dir)
			if err != nil {
				return err
			}
			defer p.stop(15 * time.Second)
			if err := m.waitSubscribed(id, p, 60*time.Second); err != nil {
				return err
			}
			r, err := measureLatency(m, out, o.nLatency, p, "benchlat-pub")
			if err != nil {
				return err
			}
			v := fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s (mean %s)", fmtDur(r.P50), fmtDur(r.P90), fmtDur(r.P99), fmtDur(r.Max), fmtDur(r.Mean))
			if tg.name == "mqtttocsv" {
				t.check(tg.name+": publish → TS row", v, "p99 ≤ 50 ms", r.P99 <= 50*time.Millisecond)
			} else {
				t.add(tg.name+": publish → TS row", v, "", "")
			}
			return nil
		}()
		if err != nil && !errors.Is(err, errInterrupted) {
			t.fail(tg.name+" latency", err)
		}
	}
}
