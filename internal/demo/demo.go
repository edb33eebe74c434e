// Package demo is `pilotlight demo`: the whole story on an AWS emulator,
// with no AWS account. It builds a simulated production (the seed's
// WordPress stack) in the primary region, protects it (prepare, replicate,
// backup), makes the primary region unreachable with the fault proxy,
// fails over, verifies what a drill verifies, reports RPO and RTO, and
// tears down. It uses internal/emulator (moto_server and the fault proxy)
// and never talks to AWS itself: it signs with fake credentials and sends
// every call through its own proxy to an emulator.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/emulator"
	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/report"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// Options shape one run of the demo.
type Options struct {
	// Endpoint is an emulator the user runs (AWS_ENDPOINT_URL). Empty
	// starts moto_server on a free loopback port for this run alone.
	Endpoint string
	// Dir receives the demo's config, state and reports; empty makes a new
	// temporary directory, which is kept so the report can be opened.
	Dir string
	// KeepMoto leaves the demo's own moto_server running after the story
	// until ctx ends (Ctrl-C), to explore what production and the DR
	// region hold.
	KeepMoto bool
	// Objects is the number of sample media files (default 300).
	Objects int
	// Progress receives progress lines (text, or JSON lines with JSON).
	Progress io.Writer
	JSON     bool
	Log      *slog.Logger
	// AWSTime, above 0, runs the whole demo on AWS's clock
	// (internal/emulator, docs/aws-time.md), this many times faster than
	// AWS: every resource takes its time from the clock's table, and the
	// demo ends with the failover's RTO and RPO at AWS durations.
	AWSTime float64
	// Engine is the database's copy engine: "" or snapshot-copy (the
	// example as shipped), aws-backup, or auto. For the last two the
	// emulator simulates AWS Backup's jobs (moto has none), and with auto
	// it says, as AWS's documentation does of the China regions, that the
	// DR region cannot copy DB snapshots from the primary: auto must pick
	// aws-backup.
	Engine string
}

// Step is one chapter of the story and the command a user runs for it.
type Step struct {
	Name    string  `json:"name"`
	Command string  `json:"command,omitempty"`
	Seconds float64 `json:"seconds"`
	Detail  string  `json:"detail,omitempty"`
	Error   string  `json:"error,omitempty"`
	Skipped bool    `json:"skipped,omitempty"`
}

// Result is the demo's outcome; Passed is true only if every step ran and
// every check passed.
type Result struct {
	Endpoint    string           `json:"endpoint"`
	StartedMoto bool             `json:"started_moto"`
	Account     string           `json:"account,omitempty"`
	Dir         string           `json:"dir"`
	Config      string           `json:"config"`
	Primary     string           `json:"primary"`
	DR          string           `json:"dr"`
	Production  *Production      `json:"production,omitempty"`
	Steps       []Step           `json:"steps"`
	Checks      []report.Check   `json:"checks"`
	Report      *recovery.Report `json:"report,omitempty"`
	ReportHTML  string           `json:"report_html,omitempty"`
	// DNSWarning is what `validate` would say had the example used DNS
	// mode upsert: why it uses failover-records instead.
	DNSWarning string         `json:"dns_warning,omitempty"`
	Cleanup    *CleanupResult `json:"cleanup,omitempty"`
	// AWSTime is the failover at AWS durations (with Options.AWSTime).
	AWSTime   *AWSTime `json:"aws_time,omitempty"`
	Leftovers []string `json:"leftovers,omitempty"`
	Passed    bool     `json:"passed"`
	Seconds   float64  `json:"seconds"`

	moto *emulator.Moto // left up by KeepMoto
}

// Run tells the whole story. The error is for what stopped the demo from
// running at all (no emulator, no directory); a failed step or check is in
// the Result, with Passed false.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Objects <= 0 {
		opts.Objects = 300
	}
	d := &demo{opts: opts, start: time.Now(), res: &Result{Steps: []Step{}, Checks: []report.Check{}}}
	defer func() { d.res.Seconds = time.Since(d.start).Seconds() }()
	if err := d.setUp(ctx); err != nil {
		d.tearDownEmulator()
		return d.res, err
	}
	defer d.tearDownEmulator()
	d.story(ctx)
	d.res.Passed = !d.failed
	for _, c := range d.res.Checks {
		d.res.Passed = d.res.Passed && c.Pass
	}
	if d.moto != nil && opts.KeepMoto {
		d.res.moto, d.moto = d.moto, nil
	}
	return d.res, nil
}

// Wait keeps the moto_server that KeepMoto left up running until ctx ends
// (Ctrl-C), then stops it; without one it returns at once.
func (r *Result) Wait(ctx context.Context) {
	if r.moto == nil {
		return
	}
	<-ctx.Done()
	r.moto.Stop()
	r.moto = nil
}

// MotoURL is the address of the moto_server KeepMoto left up, or "".
func (r *Result) MotoURL() string {
	if r.moto == nil {
		return ""
	}
	return r.moto.URL
}

type demo struct {
	opts  Options
	start time.Time
	res   *Result

	moto  *emulator.Moto
	proxy *emulator.Proxy
	clock *emulator.Clock // AWS's clock, with Options.AWSTime
	env   *awsenv.Env
	cfg   *spec.Config
	store state.Store

	mu     sync.Mutex
	failed bool // a step failed: later steps of the story are skipped
}

// setUp starts (or finds) the emulator behind the fault proxy and loads
// AWS access through it.
func (d *demo) setUp(ctx context.Context) error {
	dir := d.opts.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "pilotlight-demo-"); err != nil {
			return err
		}
	}
	dir, _ = filepath.Abs(dir)
	d.res.Dir = dir
	target := d.opts.Endpoint
	if target == "" {
		ok := d.step("start moto_server", "", func() (string, error) {
			m, err := emulator.StartMoto(ctx)
			if err != nil {
				return "", err
			}
			d.moto = m
			return "on " + m.URL + ", for this run only", nil
		})
		if !ok {
			return errors.New(d.res.Steps[len(d.res.Steps)-1].Error)
		}
		target = d.moto.URL
		d.res.StartedMoto = true
	}
	d.res.Endpoint = target
	p, err := emulator.NewProxy(target, 1)
	if err != nil {
		return fmt.Errorf("start the fault proxy: %w", err)
	}
	d.proxy = p
	if d.moto == nil {
		// On an emulator the user runs, work in an account of our own
		// (moto's x-moto-account-id): nothing of theirs is seen or
		// touched, and what moto can never delete (ElastiCache ids stay
		// `deleting` for ever, MOTO.md) cannot collide with the next run.
		d.res.Account = emulator.RandomAccountID()
		p.SetAccount(d.res.Account)
		d.say("using the emulator at %s (AWS_ENDPOINT_URL), in a fresh account %s of its own", target, d.res.Account)
	}
	switch d.opts.Engine {
	case "", "snapshot-copy":
	case "aws-backup", "auto":
		p.SimulateBackupJobs()
		d.say("AWS Backup's jobs are simulated on moto's snapshots (moto has vaults but no jobs)")
	default:
		return fmt.Errorf("engine %q: want snapshot-copy, aws-backup or auto", d.opts.Engine)
	}
	pollScale := 0.0
	if d.opts.AWSTime > 0 {
		minute := time.Duration(float64(time.Minute) / d.opts.AWSTime)
		d.clock = p.EnableClock(emulator.ClockOptions{Minute: minute})
		// pilotlight polls in real time: at this scale its 15 s poll would
		// stand for 30 AWS minutes. Its polls keep their AWS spacing.
		pollScale = 1 / d.opts.AWSTime
		d.say("AWS's clock: one AWS minute lasts %s; every resource takes the time AWS takes (docs/aws-time.md)", minute)
	} else if d.opts.Engine == "aws-backup" || d.opts.Engine == "auto" {
		// On moto's time a job is done when it is started; the backup
		// steps its jobs (snapshotting, copying, pruning) with a poll
		// between steps, which need not keep AWS's 15 s here.
		pollScale = 0.01
	}
	d.env, err = awsenv.Load(ctx, awsenv.Options{
		PollScale:   pollScale,
		Endpoint:    p.URL,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "demo-secret", ""),
		// Few, short retries: an emulator answers an action it lacks with
		// HTTP 500, which must fail fast rather than back off for seconds.
		MaxAttempts: 3, MaxBackoff: 100 * time.Millisecond, StandardRetry: true,
	})
	if err != nil {
		return err
	}
	d.cfg, err = WriteConfig(dir, d.configOptions(""))
	if err != nil {
		return err
	}
	d.res.Config, d.res.Primary, d.res.DR = d.cfg.File, d.cfg.Primary.Region, d.cfg.DR.Region
	if d.opts.Engine == "auto" {
		// What the RDS user guides say of Beijing and Ningxia: no DB
		// snapshot copy between them.
		p.SetSourceRegions(map[string][]string{d.cfg.DR.Region: {}})
		d.say("RDS DescribeSourceRegions in %s is made to list no source region (AWS: DB snapshots cannot be copied to or from Beijing or Ningxia)", d.cfg.DR.Region)
	}
	return nil
}

// configOptions: on an emulator the user runs, bucket names carry the
// run's account id, since S3 names are global across accounts there too: a
// run stopped before its cleanup must not block the next one.
func (d *demo) configOptions(primaryTarget string) ConfigOptions {
	o := ConfigOptions{PrimaryTarget: primaryTarget}
	if d.opts.Engine != "snapshot-copy" {
		o.Engine = d.opts.Engine
	}
	if d.res.Account != "" {
		o.BucketSuffix = "-" + d.res.Account
	}
	return o
}

func (d *demo) tearDownEmulator() {
	if d.store != nil {
		d.store.Close()
	}
	if d.proxy != nil {
		d.proxy.Close()
	}
	if d.moto == nil {
		return
	}
	d.moto.Stop()
}

func (d *demo) story(ctx context.Context) {
	cfg := d.cfg
	primary, dr := cfg.Primary.Region, cfg.DR.Region
	d.say("the seed's WordPress stack: production in %s, pilot-light DR in %s", primary, dr)
	var prod *Production
	d.step("build the simulated production in "+primary, "(the seed's terraform apply of basic/, database/, app/)", func() (string, error) {
		var err error
		prod, err = BuildProduction(ctx, d.env, cfg, BuildOptions{Objects: d.opts.Objects, Progress: func(f string, a ...any) { d.detail(f, a...) }})
		d.res.Production = prod
		if err != nil {
			return "", err
		}
		if cfg, err = WriteConfig(d.res.Dir, d.configOptions(prod.LoadBalancerDNS)); err != nil {
			return "", err
		}
		d.cfg = cfg
		return fmt.Sprintf("%s, %s, %d instances behind %s, %d media files (%s) in %s; config %s",
			prod.DB, prod.Cache, len(prod.Instances), prod.LoadBalancerDNS, prod.Objects, sizeText(prod.MediaBytes), prod.Bucket, cfg.File), nil
	})
	d.warnUpsert()
	d.step("open the state", "", func() (string, error) {
		s, err := state.Open(ctx, d.cfg, d.env)
		if err != nil {
			return "", err
		}
		d.store = s
		return d.cfg.RelPath(d.cfg.State.Path), nil
	})
	d.protect(ctx)
	d.outage(ctx)
	d.finish(ctx, prod)
}

// warnUpsert shows what validate says of DNS mode upsert here: the reason
// the example uses failover-records.
func (d *demo) warnUpsert() {
	if d.cfg.Recover.DNS == nil {
		return
	}
	up := *d.cfg
	dns := *d.cfg.Recover.DNS
	dns.Mode = spec.DNSUpsert
	up.Recover.DNS = &dns
	if why, bad := recovery.DNSDependsOnPrimary(&up); bad {
		d.res.DNSWarning = why
		d.say("why DNS mode %s: had this config said upsert, validate would warn: %s", d.cfg.Recover.DNS.Mode, why)
	}
}

// protect is the protect plane, while every region is up.
func (d *demo) protect(ctx context.Context) {
	cfg := d.cfg
	d.step("prepare the DR region", "pilotlight prepare", func() (string, error) {
		res, _, err := operation.Prepare(ctx, d.deps(), cfg, d.env)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d changes: network %s, DR load balancer %s, failover records and health check for %s",
			len(res.Changes), res.Network.VPC, res.LoadBalancerDNS, cfg.Recover.DNS.Record), nil
	})
	d.step("replicate setup", "pilotlight replicate setup", func() (string, error) {
		var parts []string
		results, errs, _ := operation.ReplicateSetup(ctx, d.deps(), cfg, d.env, cfg.Protect.Buckets, false)
		if err := errors.Join(errs...); err != nil {
			return "", err
		}
		for _, res := range results {
			parts = append(parts, fmt.Sprintf("%s -> %s (%d changes, role %s)", res.Source, res.Replica, len(res.Changed), res.RoleARN))
		}
		return strings.Join(parts, "; "), nil
	})
	d.step("replicate sync (back-fill what replication does not copy)", "pilotlight replicate sync", func() (string, error) {
		var parts []string
		results, errs, _ := operation.ReplicateSync(ctx, d.deps(), cfg, d.env, cfg.Protect.Buckets, s3sync.SyncOptions{Workers: 32, Log: d.opts.Log})
		if err := errors.Join(errs...); err != nil {
			return "", err
		}
		for _, res := range results {
			parts = append(parts, fmt.Sprintf("copied %d objects (%s) to %s in %s", res.Copied, sizeText(res.Bytes), res.Dest, res.Duration.Round(time.Millisecond)))
		}
		return strings.Join(parts, "; "), nil
	})
	d.step("replicate verify", "pilotlight replicate verify", func() (string, error) {
		var parts []string
		results, errs, _ := operation.ReplicateVerify(ctx, d.deps(), cfg, d.env, cfg.Protect.Buckets, s3sync.VerifyOptions{Log: d.opts.Log})
		for i, b := range cfg.Protect.Buckets {
			res := results[i]
			if res == nil {
				return "", errs[i]
			}
			d.check("replica "+b.Replica+" converged before the outage", res.Converged, "%d source objects, %d replica objects, %d missing, %d different",
				res.SourceObjects, res.ReplicaObjects, res.MissingCount, res.DifferentCount)
			parts = append(parts, fmt.Sprintf("%s: %d objects on both sides, converged=%v", b.Replica, res.ReplicaObjects, res.Converged))
		}
		return strings.Join(parts, "; "), nil
	})
	d.step("backup: one protect cycle", "pilotlight backup", func() (string, error) {
		rep, _, err := operation.Backup(ctx, d.deps(), cfg, d.env, points.BackupOptions{Log: d.opts.Log})
		if rep == nil {
			return "", err
		}
		var parts []string
		complete := err == nil
		for _, r := range rep.Results {
			copied := r.Copied
			if copied == "" && r.Resumed != "" {
				copied = r.Resumed
			}
			complete = complete && r.Error == "" && copied != ""
			parts = append(parts, fmt.Sprintf("%s %s -> DR copy %s", r.Kind, r.Created, copied))
		}
		d.check("every protected resource has a DR copy", complete, "%s", strings.Join(parts, "; "))
		if d.opts.Engine == "aws-backup" || d.opts.Engine == "auto" {
			d.checkBackupEngine(ctx, rep)
		}
		return strings.Join(parts, "; "), err
	})
}

// checkBackupEngine: the database took the aws-backup engine (auto
// because DescribeSourceRegions lists no source) and its DR copy is the
// copy job's recovery point in the DR vault.
func (d *demo) checkBackupEngine(ctx context.Context, rep *points.BackupReport) {
	for _, db := range d.cfg.Protect.Databases {
		ch, err := points.ResolveEngine(ctx, d.env, d.cfg, d.store, db.ID)
		d.check("database "+db.ID+" copies with AWS Backup", err == nil && ch.Engine == points.EngineAWSBackup,
			"engine %s (%s) %v", ch.Engine, ch.Why, orNil(err))
		copied := ""
		for _, r := range rep.Results {
			if r.Resource == db.ID {
				copied = orText(r.Copied, r.Resumed)
			}
		}
		id, ok := points.RecoveryPointSnapshot(copied)
		d.check("the DR copy of "+db.ID+" is a recovery point of the DR vault", ok && strings.Contains(copied, ":"+d.cfg.DR.Region+":"),
			"%s (snapshot %s)", copied, id)
	}
}

func orNil(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// outage kills the primary region and recovers in the DR region.
func (d *demo) outage(ctx context.Context) {
	cfg := d.cfg
	primary, dr := cfg.Primary.Region, cfg.DR.Region
	d.step("disaster: make "+primary+" unreachable", "", func() (string, error) {
		d.proxy.KillRegion(primary)
		d.proxy.ResetCalls()
		return fmt.Sprintf("the fault proxy drops every connection to %s, and to Route 53's control plane, which lives there", primary), nil
	})
	var out *operation.Outcome
	d.step("failover to "+dr, "pilotlight failover --yes", func() (string, error) {
		var err error
		out, err = operation.Recover(ctx, d.deps(), cfg, d.env, operation.KindFailover, operation.RecoverOptions{
			GraphOptions: operation.GraphOptions{Parallelism: 8, Events: runbook.NewProgress(indent(d.opts.Progress, d.opts.JSON), d.opts.JSON, false)},
		})
		if out == nil || out.Journal == nil {
			return "", err
		}
		j := out.Journal
		d.check("failover finished", err == nil && j.Phase == runbook.PhaseDone, "run %s: %s", j.ID, j.Phase)
		return fmt.Sprintf("run %s: %s", j.ID, j.Phase), err
	})
	if out == nil || out.Journal == nil {
		d.step("verify the DR stack (what a drill verifies)", "pilotlight drill", nil) // recorded as skipped
		return
	}
	d.step("verify the DR stack (what a drill verifies)", "pilotlight drill", func() (string, error) {
		noPrimary := func() []report.Check {
			calls := d.proxy.Calls()
			var toPrimary []string
			for _, c := range calls {
				if c.Region == primary {
					toPrimary = append(toPrimary, c.Service+" "+c.Action)
				}
			}
			return []report.Check{{
				Name: "failover and checks called nothing in " + primary, Pass: len(toPrimary) == 0,
				Detail: strings.TrimSpace(fmt.Sprintf("%d calls seen by the proxy, %d of them to %s %s", len(calls), len(toPrimary), primary, strings.Join(first(toPrimary, 5), ", "))),
			}}
		}
		note := fmt.Sprintf("pilotlight demo: %s was made unreachable by the fault proxy before the failover; AWS was emulated by moto_server at %s.", primary, d.res.Endpoint)
		if err := operation.VerifyFailover(ctx, d.deps(), cfg, d.env, out, noPrimary, note); err != nil {
			return "", err
		}
		failed := 0
		for _, c := range out.Stored.Checks {
			d.check(c.Name, c.Pass, "%s", c.Detail)
			if !c.Pass {
				failed++
			}
		}
		d.res.Report = out.Stored.Report
		path := filepath.Join(d.cfg.RelPath(d.cfg.State.Path), "reports", out.Journal.ID+".html")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, out.HTML, 0o600); err != nil {
			return "", err
		}
		d.res.ReportHTML = path
		return fmt.Sprintf("%d checks, %d failed", len(out.Stored.Checks), failed), nil
	})
	if rep := d.res.Report; rep != nil {
		why := "on the emulator every resource is ready at once; on AWS the database restore dominates"
		if d.clock != nil {
			why = "on AWS's clock, sped up; at AWS durations below"
		}
		d.say("RTO %s: from the failover's start until the DR stack served (%s)",
			(time.Duration(rep.RTOSeconds * float64(time.Second))).Round(time.Millisecond), why)
		for _, p := range rep.Points {
			d.say("RPO %s: %s, the age of %s when the failover began", p.Resource, (time.Duration(p.RPOSeconds * float64(time.Second))).Round(time.Second), p.ID)
		}
		if d.res.ReportHTML != "" {
			d.say("report: %s", d.res.ReportHTML)
		}
		if d.clock != nil {
			a, err := d.awsTime(out, rep)
			if err != nil {
				d.check("failover at AWS durations", false, "%v", err)
				return
			}
			d.res.AWSTime = a
			for _, p := range a.RPO {
				d.say("RPO %s at AWS durations: %s (%s)", p.Resource, p.Age.Round(time.Second), p.ID)
			}
			d.check("app boots beside the restore", a.AppStart < a.DatabaseReady, "%s", a.BootLine())
			d.say("%s", a.Line())
		}
	}
}

// finish tears down what pilotlight made and, on an emulator the user
// runs, everything else the demo made; then proves nothing is left.
func (d *demo) finish(ctx context.Context, prod *Production) {
	cfg := d.cfg
	// Teardown and cleanup run even after a failed step, on a context that
	// survives Ctrl-C long enough to leave the emulator clean.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	d.always("the primary region is back", "", func() (string, error) {
		d.proxy.ReviveRegion(cfg.Primary.Region)
		return "teardown needs Route 53's control plane, which lives in " + cfg.Primary.Region, nil
	})
	if d.store != nil {
		d.always("teardown of the DR stack, prepared network included", "pilotlight teardown --network --skip-final-snapshot --force --yes", func() (string, error) {
			return d.teardown(cctx)
		})
	}
	if d.moto != nil {
		if d.opts.KeepMoto {
			d.say("moto_server stays up at %s with production and the DR copies, until Ctrl-C", d.moto.URL)
			return
		}
		d.always("stop moto_server", "", func() (string, error) {
			d.moto.Stop()
			d.moto = nil
			return "everything the demo made goes with it", nil
		})
		return
	}
	var cleanup *CleanupResult
	d.always("clean up production and the recovery points", "", func() (string, error) {
		cleanup = Cleanup(cctx, d.env, cfg, prod)
		d.res.Cleanup = cleanup
		detail := fmt.Sprintf("deleted %d resources", len(cleanup.Deleted))
		if len(cleanup.Unsupported) > 0 {
			detail += "; the emulator cannot delete: " + strings.Join(cleanup.Unsupported, ", ")
		}
		if len(cleanup.Problems) > 0 {
			return detail, errors.New(strings.Join(cleanup.Problems, "; "))
		}
		return detail, nil
	})
	d.always("check that nothing is left", "", func() (string, error) {
		left, err := Leftovers(cctx, d.env, cfg)
		if err != nil {
			return "", err
		}
		gaps := d.unsupportedActions()
		var real, known []string
		for _, l := range left {
			if gaps[l.DeleteAction] {
				known = append(known, l.String())
				continue
			}
			real = append(real, l.String())
		}
		d.res.Leftovers = real
		detail := "nothing pilotlight or the demo made is left"
		if len(known) > 0 {
			detail = fmt.Sprintf("nothing left but what the emulator cannot delete: %s", strings.Join(known, ", "))
		}
		if len(real) > 0 {
			detail = fmt.Sprintf("%d left: %s", len(real), strings.Join(real, ", "))
		}
		d.check("nothing left behind", len(real) == 0, "%s", detail)
		return detail, nil
	})
}

// teardown runs the DR teardown and judges it: done, or failed only on
// deletions the emulator does not implement.
func (d *demo) teardown(ctx context.Context) (string, error) {
	cfg := d.cfg
	out, runErr := operation.Teardown(ctx, d.deps(), cfg, d.env, operation.TeardownOptions{
		Of:              operation.KindFailover,
		TeardownOptions: recovery.TeardownOptions{Network: true, SkipFinalSnapshot: true, Force: true},
		GraphOptions:    operation.GraphOptions{Events: runbook.NewProgress(indent(d.opts.Progress, d.opts.JSON), d.opts.JSON, false)},
	})
	if out == nil || out.Journal == nil {
		return "", runErr
	}
	j := out.Journal
	var deleted, problems, gapped []string
	gaps := d.unsupportedActions()
	for _, s := range j.Steps {
		for _, k := range []string{"deleted", "deleted_lb", "deleted_tg"} {
			if v := s.Outputs[k]; v != "" {
				deleted = append(deleted, s.ID+": "+v)
			}
		}
		switch {
		case s.Error == "":
		case onlyEmulatorGaps(s.Error, gaps):
			gapped = append(gapped, gapNames(s.Error)...)
		default:
			problems = append(problems, s.ID+": "+s.Error)
		}
	}
	if runErr != nil && len(problems) == 0 && len(gapped) == 0 {
		problems = append(problems, runErr.Error())
	}
	detail := "deleted " + orText(strings.Join(deleted, "; "), "nothing")
	if len(gapped) > 0 {
		detail += "; could not delete " + strings.Join(gapped, ", ") + ": the emulator answers that delete with HTTP 500 (moto 5.2.1 does not implement it; AWS does)"
	}
	d.check("teardown deleted what failover and prepare made", len(problems) == 0, "%s", orText(strings.Join(problems, "; "), detail))
	if len(problems) > 0 {
		return detail, errors.New(strings.Join(problems, "; "))
	}
	return detail, nil
}

// deps is what the demo's operations need: they run exactly as the CLI's
// verbs do, recorded in the demo's own state.
func (d *demo) deps() operation.Deps {
	return operation.Deps{Store: d.store, Stack: d.cfg.Stack, Log: d.opts.Log}
}

// emulatorGaps maps what teardown says it could not delete to the API
// action that deletes it.
var emulatorGaps = map[string]string{"cache subnet group": "DeleteCacheSubnetGroup"}

// onlyEmulatorGaps reports whether a teardown error names nothing but
// deletions whose action the emulator answered with HTTP 500.
func onlyEmulatorGaps(msg string, gaps map[string]bool) bool {
	msg = strings.TrimPrefix(msg, "could not delete: ")
	for _, part := range strings.Split(msg, "; ") {
		known := false
		for prefix, action := range emulatorGaps {
			if strings.HasPrefix(part, prefix) && gaps[action] {
				known = true
			}
		}
		if !known {
			return false
		}
	}
	return true
}

// gapNames shortens "could not delete: cache subnet group x: operation
// error ..." to what was left: "cache subnet group x".
func gapNames(msg string) []string {
	var out []string
	for _, part := range strings.Split(strings.TrimPrefix(msg, "could not delete: "), "; ") {
		if i := strings.Index(part, ": "); i > 0 {
			part = part[:i]
		}
		out = append(out, part)
	}
	return out
}

// unsupportedActions are the actions the emulator answered only with HTTP
// 500 during this run: moto's answer to an action it does not implement.
func (d *demo) unsupportedActions() map[string]bool {
	seen := map[string]bool{}
	ok := map[string]bool{}
	for _, c := range d.proxy.Calls() {
		if c.Fault != "" {
			continue
		}
		if c.Status == 500 {
			seen[c.Action] = true
		} else {
			ok[c.Action] = true
		}
	}
	for a := range ok {
		delete(seen, a)
	}
	return seen
}

// step runs one chapter of the story unless an earlier one failed; then
// (or with a nil fn) it is recorded as skipped.
func (d *demo) step(name, command string, fn func() (string, error)) bool {
	if d.failed || fn == nil {
		d.res.Steps = append(d.res.Steps, Step{Name: name, Command: command, Skipped: true})
		d.event(name, command, "skipped", 0, "an earlier step failed", "")
		return false
	}
	return d.always(name, command, fn)
}

// always runs a chapter whatever happened before (teardown, cleanup).
func (d *demo) always(name, command string, fn func() (string, error)) bool {
	d.event(name, command, "start", 0, "", "")
	t0 := time.Now()
	detail, err := fn()
	s := Step{Name: name, Command: command, Seconds: time.Since(t0).Seconds(), Detail: detail}
	if err != nil {
		s.Error = err.Error()
		d.failed = true
		d.res.Checks = append(d.res.Checks, report.Check{Name: name, Pass: false, Detail: s.Error})
		d.event(name, command, "failed", s.Seconds, detail, s.Error)
	} else {
		d.event(name, command, "done", s.Seconds, detail, "")
	}
	d.res.Steps = append(d.res.Steps, s)
	return err == nil
}

func (d *demo) check(name string, pass bool, format string, args ...any) {
	c := report.Check{Name: name, Pass: pass, Detail: fmt.Sprintf(format, args...)}
	d.res.Checks = append(d.res.Checks, c)
	if d.opts.JSON {
		d.emit(map[string]any{"check": c.Name, "pass": c.Pass, "detail": c.Detail})
		return
	}
	mark := "PASS"
	if !pass {
		mark = "FAIL"
	}
	d.line("      %s %s: %s", mark, c.Name, c.Detail)
}

// event prints a step's progress: a line per change in text, a JSON
// object per line with JSON.
func (d *demo) event(name, command, what string, secs float64, detail, errText string) {
	if d.opts.JSON {
		d.emit(map[string]any{"step": name, "command": command, "event": what, "seconds": round(secs), "detail": detail, "error": errText})
		return
	}
	switch what {
	case "start":
		switch {
		case strings.HasPrefix(command, "("):
			d.line("==> %s   %s", name, command)
		case command != "":
			d.line("==> %s   $ %s", name, command)
		default:
			d.line("==> %s", name)
		}
	case "done":
		d.line("    ok (%s) %s", fmtSecs(secs), detail)
	case "failed":
		d.line("    FAILED (%s) %s", fmtSecs(secs), errText)
	case "skipped":
		d.line("--- %s: skipped (%s)", name, detail)
	}
}

// detail prints a sub-step of the current step.
func (d *demo) detail(format string, args ...any) {
	if d.opts.JSON {
		d.emit(map[string]any{"detail": fmt.Sprintf(format, args...)})
		return
	}
	d.line("    - "+format, args...)
}

// say prints a statement of the story.
func (d *demo) say(format string, args ...any) {
	if d.opts.JSON {
		d.emit(map[string]any{"note": fmt.Sprintf(format, args...)})
		return
	}
	d.line("    "+format, args...)
}

func (d *demo) line(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.opts.Progress, "[%6.1fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

func (d *demo) emit(v map[string]any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v["elapsed_seconds"] = round(time.Since(d.start).Seconds())
	for k, x := range v {
		if s, ok := x.(string); ok && s == "" {
			delete(v, k)
		}
	}
	b, _ := json.Marshal(v)
	fmt.Fprintf(d.opts.Progress, "%s\n", b)
}

// indent shifts the runbook's own progress lines under the demo's step.
func indent(w io.Writer, json bool) io.Writer {
	if json {
		return w
	}
	return &prefixWriter{w: w, prefix: "          "}
}

type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out bytes.Buffer
	for _, c := range b {
		if !p.mid {
			out.WriteString(p.prefix)
			p.mid = true
		}
		out.WriteByte(c)
		if c == '\n' {
			p.mid = false
		}
	}
	if _, err := p.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

func round(s float64) float64 { return float64(int64(s*1000)) / 1000 }

func fmtSecs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(10 * time.Millisecond).String()
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func first(s []string, n int) []string { return s[:min(len(s), n)] }

func orText(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
