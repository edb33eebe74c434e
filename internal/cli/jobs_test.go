package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/emulator"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestBackupNoWaitShowsJobs: with a cross-region copy that takes hours
// (AWS's clock on the proxy, internal/emulator: moto finishes copies in
// the call), `backup --no-wait` returns at once with the job pending and
// its phase in -o json; `points` and `status` show the job with phase and
// age and the database's copy engine; once AWS has finished the copy, a
// waiting `backup` completes the job without a second snapshot.
func TestBackupNoWaitShowsJobs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	motoOpts, _ := primaryWithDB(ctx, t)
	proxy := faultProxy(t, motoOpts.Endpoint)
	d := emulator.DefaultDurations()
	d.DBSnapshot = emulator.Sized{Base: time.Minute}
	d.DBSnapshotCopy = emulator.Sized{Base: 10 * time.Hour}
	clock := proxy.EnableClock(emulator.ClockOptions{Minute: 100 * time.Millisecond, Durations: &d})
	cfgPath := writeConfig(t, `stack: wordpress
primary: { region: cn-northwest-1 }
dr: { region: cn-north-1 }
protect:
  databases:
    - { id: wordpress-db, keep: { primary: 2, dr: 2 }, target_rpo: 4h }
`)
	run := cliRunner(ctx, testenv.Options(proxy.URL), cfgPath)

	var rep points.BackupReport
	for i := 0; ; i++ {
		if i == 50 {
			t.Fatalf("the copy never started: %+v", rep)
		}
		start := time.Now()
		code, out, errOut := run("backup", "--no-wait", "-o", "json")
		rep = points.BackupReport{}
		if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Results) != 1 {
			t.Fatalf("backup --no-wait: %d\n%s\n%s", code, out, errOut)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("backup --no-wait took %v", took)
		}
		r := rep.Results[0]
		if !r.InProgress || (r.Phase != points.PhaseSnapshotting && r.Phase != points.PhaseCopying) {
			t.Fatalf("backup --no-wait result %+v, want a job in progress", r)
		}
		if r.Phase == points.PhaseCopying {
			break
		}
	}
	running := rep.Results[0].Point
	code, out, errOut := run("backup", "--no-wait")
	if code != 0 || !strings.Contains(out, "still running") || !strings.Contains(out, "wordpress-db: copying for") {
		t.Fatalf("backup --no-wait text: %d\n%s\n%s", code, out, errOut)
	}

	code, out, errOut = run("points")
	if code != 0 || !strings.Contains(out, "protect job copying for") || !strings.Contains(out, "RPO none") {
		t.Fatalf("points: %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = run("points", "-o", "json")
	var pr struct {
		Jobs []struct {
			Resource string          `json:"resource"`
			Phase    points.JobPhase `json:"phase"`
			Age      time.Duration   `json:"age_ns"`
		} `json:"jobs"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &pr) != nil || len(pr.Jobs) != 1 || pr.Jobs[0].Phase != points.PhaseCopying || pr.Jobs[0].Age <= 0 {
		t.Fatalf("points -o json jobs: %d\n%s", code, out)
	}

	// Not ready (no finished DR copy yet), and it says what is running.
	_, out, errOut = run("status")
	for _, want := range []string{"protect job", "copying for", "copy engine", "snapshot-copy: configured (the default)"} {
		if !strings.Contains(out, want) {
			t.Fatalf("status lacks %q:\n%s\n%s", want, out, errOut)
		}
	}

	// Once AWS has finished the copy, the next backup finishes that job
	// (no second copy of it) and starts the next one; the RPO now counts
	// from the finished copy while the new job runs.
	clock.Advance(11 * time.Hour)
	code, out, errOut = run("backup", "--no-wait", "-o", "json")
	rep = points.BackupReport{}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Results) != 1 {
		t.Fatalf("backup after the copy: %d\n%s\n%s", code, out, errOut)
	}
	// A new job starts unless this backup falls in the second of the
	// running job's point, whose name it would take.
	r := rep.Results[0]
	if r.Finished != running || r.Error != "" || r.Created == running {
		t.Fatalf("backup after the copy: %+v, want %s finished", r, running)
	}
	code, out, errOut = run("points")
	if code != 0 || !strings.Contains(out, "newest DR point "+running) || (r.Created != "") != strings.Contains(out, "protect job") {
		t.Fatalf("points after the copy (new job %q): %d\n%s\n%s", r.Created, code, out, errOut)
	}
}

// TestValidateStatesEngineOffline: validate says which engine each
// database uses, and for auto what it will ask AWS, without calling AWS
// (the endpoint here answers nothing).
func TestValidateStatesEngineOffline(t *testing.T) {
	cfgPath := writeConfig(t, `stack: wordpress
primary: { region: cn-northwest-1 }
dr: { region: cn-north-1 }
protect:
  databases:
    - { id: wordpress-db, engine: auto }
    - { id: orders-db }
`)
	code, out, errOut := cliRunner(context.Background(), testenv.Options("http://127.0.0.1:1"), cfgPath)("validate")
	if code != 0 {
		t.Fatalf("validate: %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"wordpress-db: copy engine auto: asks RDS DescribeSourceRegions in cn-north-1 whether it lists cn-northwest-1; snapshot-copy if it does, aws-backup if not",
		"orders-db: copy engine snapshot-copy: configured (the default)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate lacks %q:\n%s", want, out)
		}
	}
}

// TestBackupProgress: a waiting backup shows each running job's phase,
// age and queue state when it changes, and at most once a minute while
// it does not.
func TestBackupProgress(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	now := t0
	var w bytes.Buffer
	progress := backupProgress(&w, func() time.Time { return now })
	step := func(d time.Duration, phase points.JobPhase, queued bool) {
		now = now.Add(d)
		progress(&points.BackupReport{Results: []points.ResourceResult{
			{Resource: "db", Phase: phase, InProgress: !phase.Finished(), Queued: queued, Since: t0},
			{Resource: "web", Phase: points.PhaseDone},
		}})
	}
	step(0, points.PhaseSnapshotting, false)
	step(15*time.Second, points.PhaseCopying, true)
	step(30*time.Second, points.PhaseCopying, true) // unchanged, under a minute: quiet
	step(time.Minute, points.PhaseCopying, false)
	step(2*time.Minute, points.PhaseCopying, false) // unchanged for a minute: heartbeat
	step(time.Minute, points.PhaseDone, false)
	want := `backup: db: snapshotting for 0s
backup: db: copying for 15s, queued for a copy slot
backup: db: copying for 1m45s
backup: db: copying for 3m45s
backup: db: done
`
	if w.String() != want {
		t.Fatalf("progress:\n%s\nwant:\n%s", w.String(), want)
	}
}
