package points

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

const threeKinds = `protect:
  databases:
    - id: db1
    - id: cl1
      kind: cluster
  images:
    - name: web
      instance: { tag: { Role: web } }
`

func TestCycleMakesOnePointPerRegionTaggedAndCatalogued(t *testing.T) {
	forPairs(t, func(t *testing.T, P, D string) {
		w := newWorld(t, P, D)
		w.createDB("db1", false)
		w.createCluster("cl1")
		inst := w.runInstance("web")
		cfg := w.config(threeKinds)

		rep := w.mustBackup(w.env, cfg, t0)
		if len(rep.Results) != 3 {
			t.Fatalf("results: %+v", rep.Results)
		}
		for _, r := range rep.Results {
			if r.Created == "" || r.Copied == "" || r.Error != "" || len(r.Deleted) != 0 {
				t.Errorf("%s: %+v", r.Resource, r)
			}
		}
		sources := map[string]string{"db1": "db1", "cl1": "cl1", "web": inst}
		for _, res := range []string{"db1", "cl1", "web"} {
			prim, dr := w.list(cfg, P, res), w.list(cfg, D, res)
			if len(prim) != 1 || len(dr) != 1 || !prim[0].Managed || !dr[0].Managed {
				t.Fatalf("%s: want one managed point per region, got %+v / %+v", res, prim, dr)
			}
			p, d := prim[0], dr[0]
			if !p.Available() || !d.Available() || !p.Created.Equal(t0) || !d.Created.Equal(t0) {
				t.Errorf("%s: %+v / %+v", res, p, d)
			}
			if p.Source != sources[res] || d.Source != sources[res] || d.CopyOf != p.ID || p.CopyOf != "" {
				t.Errorf("%s: source/copy-of: %+v / %+v", res, p, d)
			}
			if p.Name != d.Name || !strings.HasPrefix(p.Name, "wp-"+res+"-20260301080000") {
				t.Errorf("%s: names %q %q", res, p.Name, d.Name)
			}
			for _, m := range []map[string]string{p.tags, d.tags} {
				if m[tags.ManagedBy] != tags.Tool || m[tags.Stack] != "wp" || m[tags.Resource] != res ||
					m[tags.Kind] != string(p.Kind) || m[tags.Source] != sources[res] || m[tags.Created] != "2026-03-01T08:00:00Z" {
					t.Errorf("%s: tags %v", res, m)
				}
			}
			if d.tags[tags.CopyOf] != p.ID {
				t.Errorf("%s: DR copy tags %v", res, d.tags)
			}
			if res == "web" {
				if len(p.Snapshots) != 1 || len(d.Snapshots) != 1 || p.Snapshots[0] == d.Snapshots[0] {
					t.Fatalf("AMI snapshots: %v %v", p.Snapshots, d.Snapshots)
				}
				if st := w.snapshotTags(P, p.Snapshots[0]); st[tags.Resource] != "web" || st[tags.Stack] != "wp" {
					t.Errorf("primary AMI snapshot tags %v", st)
				}
				if st := w.snapshotTags(D, d.Snapshots[0]); st[tags.CopyOf] != p.ID {
					t.Errorf("DR AMI snapshot tags %v", st)
				}
			}
		}

		// Ninety minutes later, the catalogue shows both regions with ages
		// and the RPO is the DR point's age.
		cat, err := ReadCatalogue(w.ctx, w.env, cfg, CatalogueOptions{Now: func() time.Time { return t0.Add(90 * time.Minute) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(cat.Resources) != 3 {
			t.Fatalf("catalogue: %+v", cat)
		}
		for _, r := range cat.Resources {
			if len(r.Points) != 2 || r.RPO != 90*time.Minute || r.NewestDR == "" || r.OverTarget {
				t.Errorf("%s: %+v", r.Resource, r)
			}
			for _, p := range r.Points {
				if p.Age != 90*time.Minute || p.CopyState != map[bool]string{true: CopyCopied, false: StatusAvailable}[p.Region == P] {
					t.Errorf("%s: %s %s age %v copy state %q", r.Resource, p.Region, p.ID, p.Age, p.CopyState)
				}
			}
		}
	})
}

func TestSecondCycleAddsExactlyOnePointAndResumesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	w.createDB("db1", false)
	w.runInstance("web")
	cfg := w.config(threeKinds)
	w.mustBackup(w.env, cfg, t0, "db1", "web")
	rep := w.mustBackup(w.env, cfg, t0.Add(2*time.Hour), "db1", "web")
	for _, r := range rep.Results {
		if r.Resumed != "" || r.Created == "" {
			t.Errorf("%+v", r)
		}
		for _, region := range []string{w.P, w.D} {
			if n := len(managed(w.list(cfg, region, r.Resource))); n != 2 {
				t.Errorf("%s in %s: %d points", r.Resource, region, n)
			}
		}
	}
}

func TestEncryptedDatabaseIsCopiedWithTheDRKey(t *testing.T) {
	forPairs(t, func(t *testing.T, P, D string) {
		w := newWorld(t, P, D)
		w.createDB("secure", true)
		arn := w.createKey("alias/dr")
		cfg := w.config("protect:\n  databases:\n    - id: secure\n      dr_kms_key: alias/dr\n")
		w.mustBackup(w.env, cfg, t0)
		dr := w.list(cfg, D, "secure")
		if len(dr) != 1 || !dr[0].Encrypted || dr[0].KMSKey != arn {
			t.Fatalf("DR copy %+v, want encrypted with %s", dr, arn)
		}
	})
}

func TestEncryptedDatabaseWithoutUsableKeyFailsBeforeSnapshot(t *testing.T) {
	forPairs(t, func(t *testing.T, P, D string) {
		w := newWorld(t, P, D)
		w.createDB("secure", true)
		w.createDB("plain", false)
		w.createKey("alias/other")
		for i, c := range []struct{ yaml, want string }{
			{"      dr_kms_key: alias/missing\n", `DR KMS key "alias/missing" does not exist in ` + D},
			{"", "protect.databases[0].dr_kms_key is not set: name a KMS key in the DR region " + D},
		} {
			cfg := w.config("protect:\n  databases:\n    - id: secure\n" + c.yaml + "    - id: plain\n")
			w.proxy.ResetCalls()
			rep, err := w.backup(w.env, cfg, t0.Add(time.Duration(i)*3*time.Hour))
			if err == nil || !strings.Contains(err.Error(), "secure (rds-instance): ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want failure naming %q, got %v", c.want, err)
			}
			if strings.Contains(err.Error(), "plain") {
				t.Errorf("the unencrypted database must not fail: %v", err)
			}
			if len(rep.Results) != 2 || rep.Results[1].Error != "" || rep.Results[1].Copied == "" {
				t.Errorf("plain must still be protected: %+v", rep.Results)
			}
			if n := len(w.list(cfg, P, "secure")); n != 0 {
				t.Errorf("%d snapshots of secure were taken", n)
			}
			if n := w.calls(P, "CreateDBSnapshot"); n != 1 {
				t.Errorf("CreateDBSnapshot called %d times, want 1 (plain only)", n)
			}
		}
	})
}

func TestCrossPartitionCopyIsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "us-east-1", "us-west-2")
	w.createDB("db1", false)
	cfg := w.config("protect:\n  databases:\n    - id: db1\n")
	cfg.DR.Region = "cn-north-1" // as a config built in code, skipping validation, could say
	_, err := w.backup(w.env, cfg, t0)
	if err == nil || !strings.Contains(err.Error(), "different partitions") {
		t.Fatalf("want a partition refusal, got %v", err)
	}
	if m := w.mutations(); len(m) != 0 {
		t.Fatalf("mutating calls made: %v", m)
	}
	if err := checkCopy("us-east-1", "us-west-2", "arn:aws-cn:rds:cn-north-1:123456789012:snapshot:x"); err == nil {
		t.Fatal("a source ARN in another partition must be refused")
	}
}

// TestInterruptedCycleResumes cancels a cycle while its copies are in
// flight (held by the proxy, so they never reach moto) and re-runs it: the
// re-run copies the snapshot and image already taken instead of taking new
// ones, ending with one point and one copy each.
func TestInterruptedCycleResumes(t *testing.T) {
	forPairs(t, func(t *testing.T, P, D string) {
		w := newWorld(t, P, D)
		w.createDB("db1", false)
		w.createCluster("cl1")
		w.runInstance("web")
		cfg := w.config(threeKinds)
		holds := []*testenv.Hold{
			w.proxy.HoldFirst(testenv.Match{Region: D, Action: "CopyDBSnapshot"}),
			w.proxy.HoldFirst(testenv.Match{Region: D, Action: "CopyDBClusterSnapshot"}),
			w.proxy.HoldFirst(testenv.Match{Region: D, Action: "CopyImage"}),
		}
		ctx, cancel := context.WithCancel(w.ctx)
		done := make(chan error, 1)
		go func() {
			_, err := Backup(ctx, w.env, cfg, BackupOptions{Now: func() time.Time { return t0 }})
			done <- err
		}()
		for _, h := range holds {
			select {
			case <-h.Reached():
			case <-w.ctx.Done():
				t.Fatal("copies never started")
			}
		}
		cancel()
		if err := <-done; err == nil || !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "canceled") {
			t.Fatalf("interrupted cycle: %v", err)
		}
		// The holds are not released: a released request the server had
		// not yet seen cancelled would still reach moto.
		for _, res := range []string{"db1", "cl1", "web"} {
			if p, d := w.list(cfg, P, res), w.list(cfg, D, res); len(p) != 1 || len(d) != 0 {
				t.Fatalf("%s after the interruption: %d primary, %d DR", res, len(p), len(d))
			}
		}

		rep := w.mustBackup(w.env, cfg, t0.Add(10*time.Minute))
		for _, r := range rep.Results {
			if r.Created != "" || r.Resumed == "" || r.Copied == "" {
				t.Errorf("re-run must resume, not create: %+v", r)
			}
			p, d := w.list(cfg, P, r.Resource), w.list(cfg, D, r.Resource)
			if len(p) != 1 || len(d) != 1 || d[0].CopyOf != p[0].ID || !d[0].Managed {
				t.Errorf("%s: want one point and one copy, got %v / %v", r.Resource, ids(p), ids(d))
			}
		}
		for _, a := range []string{"CreateDBSnapshot", "CreateDBClusterSnapshot", "CreateImage"} {
			if n := w.calls(P, a); n != 1 {
				t.Errorf("%s called %d times, want 1", a, n)
			}
		}
	})
}

// TestInterruptedImageTaggingIsAdopted stops a cycle after CopyImage made
// the DR image but before it was tagged (moto's CopyImage drops
// TagSpecifications, so the image is untagged): the re-run tags that image
// instead of copying again.
func TestInterruptedImageTaggingIsAdopted(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "us-east-1", "us-west-2")
	w.runInstance("web")
	cfg := w.config(threeKinds)
	hold := w.proxy.HoldFirst(testenv.Match{Region: w.D, Action: "CreateTags"})
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan error, 1)
	go func() {
		_, err := Backup(ctx, w.env, cfg, BackupOptions{Now: func() time.Time { return t0 }, Only: []string{"web"}})
		done <- err
	}()
	<-hold.Reached()
	cancel()
	<-done
	dr := w.list(cfg, w.D, "web")
	if len(dr) != 1 || dr[0].Managed {
		t.Fatalf("want one untagged DR image, got %+v", dr)
	}
	rep := w.mustBackup(w.env, cfg, t0.Add(time.Minute), "web")
	dr = w.list(cfg, w.D, "web")
	prim := w.list(cfg, w.P, "web")
	if len(dr) != 1 || !dr[0].Managed || dr[0].CopyOf != prim[0].ID || !dr[0].Created.Equal(t0) || rep.Results[0].Copied != dr[0].ID {
		t.Fatalf("DR image not adopted: %+v (report %+v)", dr, rep.Results)
	}
	if n := w.calls(w.D, "CopyImage"); n != 1 {
		t.Fatalf("CopyImage called %d times", n)
	}
	if st := w.snapshotTags(w.D, dr[0].Snapshots[0]); st[tags.CopyOf] != prim[0].ID {
		t.Fatalf("DR snapshot tags %v", st)
	}
}

func TestStaleUnfinishedPointIsLeftForRetention(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	w.createDB("db1", false)
	cfg := w.config("protect:\n  databases:\n    - id: db1\n      every: 2h\n      keep: { primary: 1, dr: 1 }\n")
	// A point from a crashed run three hours ago, never copied.
	_, err := w.rds(w.P).CreateDBSnapshot(w.ctx, &rds.CreateDBSnapshotInput{
		DBInstanceIdentifier: aws.String("db1"), DBSnapshotIdentifier: aws.String("wp-db1-20260301050000"),
		Tags: tags.RDS(pointTags(cfg, mustTarget(t, cfg, "db1"), "db1", t0.Add(-3*time.Hour), "")),
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := w.mustBackup(w.env, cfg, t0)
	r := rep.Results[0]
	if r.Resumed != "" || r.Created != "wp-db1-20260301080000" || len(r.Deleted) != 1 || r.Deleted[0] != w.P+"/wp-db1-20260301050000" {
		t.Fatalf("%+v", r)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "us-east-1", "us-west-2")
	w.createDB("db1", false)
	w.runInstance("web")
	cfg := w.config("protect:\n  databases:\n    - id: db1\n      keep: { primary: 1, dr: 1 }\n  images:\n    - name: web\n      instance: { tag: { Role: web } }\n      keep: { primary: 1, dr: 1 }\n")
	w.mustBackup(w.env, cfg, t0)
	w.proxy.ResetCalls()
	rep, err := Backup(w.ctx, w.env, cfg, BackupOptions{DryRun: true, Now: func() time.Time { return t0.Add(24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if m := w.mutations(); len(m) != 0 {
		t.Fatalf("dry run changed things: %v", m)
	}
	plan := strings.Join(rep.Planned, "\n")
	for _, want := range []string{
		"db1: create rds-instance wp-db1-20260302080000 of db1 in us-east-1",
		"db1: copy wp-db1-20260302080000 to us-west-2",
		"db1: delete rds-instance wp-db1-20260301080000 in us-east-1 (retention)",
		"db1: delete rds-instance wp-db1-20260301080000 in us-west-2 (retention)",
		"web: create ami wp-web-20260302080000 of i-",
		"web: delete ami ami-",
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	if !rep.DryRun || rep.Results[0].Created != "" {
		t.Errorf("%+v", rep)
	}
}

func TestOneFailingResourceDoesNotStopOthers(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	w.createDB("db1", false)
	cfg := w.config("protect:\n  databases:\n    - id: db1\n    - id: gone\n  images:\n    - name: web\n      instance: { tag: { Role: nobody } }\n")
	rep, err := w.backup(w.env, cfg, t0)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"2 of 3 resources", "gone (rds-instance): DB instance gone not found in cn-northwest-1",
		"web (ami): image web: no running instance tagged Role=nobody in cn-northwest-1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if rep.Results[0].Copied == "" {
		t.Errorf("db1 not protected: %+v", rep.Results[0])
	}
}

func TestNewestDRAndGetCallOnlyTheDRRegion(t *testing.T) {
	forPairs(t, func(t *testing.T, P, D string) {
		w := newWorld(t, P, D)
		w.createDB("db1", false)
		w.runInstance("web")
		cfg := w.config(threeKinds)
		w.mustBackup(w.env, cfg, t0, "db1", "web")
		last := w.mustBackup(w.env, cfg, t0.Add(2*time.Hour), "db1", "web")
		w.proxy.KillRegion(P)
		w.proxy.ResetCalls()
		for _, r := range last.Results {
			p, err := NewestDR(w.ctx, w.env, cfg, r.Resource)
			if err != nil || p.ID != r.Copied || !p.Created.Equal(t0.Add(2*time.Hour)) || p.Region != D {
				t.Fatalf("%s: NewestDR %+v, %v; want %s", r.Resource, p, err, r.Copied)
			}
			g, err := Get(w.ctx, w.env, cfg, D, r.Resource, p.ID)
			if err != nil || g.ID != p.ID {
				t.Fatalf("Get: %+v %v", g, err)
			}
		}
		for _, c := range w.proxy.Calls() {
			if c.Region != D {
				t.Fatalf("call outside the DR region: %+v", c)
			}
		}
		if _, err := NewestDR(w.ctx, w.env, w.config("protect:\n  databases:\n    - id: other\n"), "other"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
	})
}

func mustTarget(t *testing.T, cfg *spec.Config, name string) target {
	t.Helper()
	tg, err := targetOf(cfg, name)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// TestRerunInTheSameSecondFinishesThatPoint: a second run at the same
// instant finds its point's name taken by the first run's point and
// finishes that one instead of failing or making another.
func TestRerunInTheSameSecondFinishesThatPoint(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "us-east-1", "us-west-2")
	w.createDB("db1", false)
	w.runInstance("web")
	cfg := w.config(threeKinds)
	w.mustBackup(w.env, cfg, t0, "db1", "web")
	rep := w.mustBackup(w.env, cfg, t0, "db1", "web")
	for _, r := range rep.Results {
		if r.Created != "" || r.Resumed == "" || r.Copied == "" || len(r.Deleted) != 0 {
			t.Errorf("%+v", r)
		}
		for _, region := range []string{w.P, w.D} {
			if n := len(w.list(cfg, region, r.Resource)); n != 1 {
				t.Errorf("%s in %s: %d points", r.Resource, region, n)
			}
		}
	}
	if w.calls(w.P, "CreateDBSnapshot") != 1 || w.calls(w.P, "CreateImage") != 1 || w.calls(w.D, "CopyImage") != 1 {
		t.Fatalf("calls: %v", w.proxy.Calls())
	}
}

// capturingEC2 records CopyImage requests: moto ignores Encrypted and
// KmsKeyId, so the test checks what pilotlight asked for.
type capturingEC2 struct {
	ec2API
	mu     sync.Mutex
	copies []*ec2.CopyImageInput
}

func (c *capturingEC2) CopyImage(ctx context.Context, in *ec2.CopyImageInput, opts ...func(*ec2.Options)) (*ec2.CopyImageOutput, error) {
	c.mu.Lock()
	c.copies = append(c.copies, in)
	c.mu.Unlock()
	return c.ec2API.CopyImage(ctx, in, opts...)
}

func TestEncryptedImageNeedsTheDRKeyBeforeCreateImage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	out, err := w.ec2(w.P).RunInstances(w.ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		BlockDeviceMappings: []ec2types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"),
			Ebs: &ec2types.EbsBlockDevice{VolumeSize: aws.Int32(8), Encrypted: aws.Bool(true)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	inst := aws.ToString(out.Instances[0].InstanceId)
	body := "protect:\n  images:\n    - name: web\n      instance: { id: " + inst + " }\n"
	_, err = w.backup(w.env, w.config(body), t0)
	if err == nil || !strings.Contains(err.Error(), "web is encrypted but protect.images[0].dr_kms_key is not set") {
		t.Fatalf("want a missing-key failure, got %v", err)
	}
	if n := w.calls(w.P, "CreateImage"); n != 0 {
		t.Fatalf("CreateImage called %d times before the key was checked", n)
	}

	arn := w.createKey("alias/dr-images")
	cfg := w.config(body + "      dr_kms_key: alias/dr-images\n")
	c := newClients(w.env)
	capt := &capturingEC2{ec2API: c.ec2(w.D)}
	c.ec2c[w.D] = capt
	if _, err := backup(w.ctx, c, cfg, BackupOptions{Now: func() time.Time { return t0 }}); err != nil {
		t.Fatal(err)
	}
	if len(capt.copies) != 1 || !aws.ToBool(capt.copies[0].Encrypted) || aws.ToString(capt.copies[0].KmsKeyId) != arn {
		t.Fatalf("CopyImage requests %+v, want Encrypted with %s", capt.copies, arn)
	}
}
