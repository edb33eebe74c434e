package points

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// foreignSet makes, in both regions, manual snapshots of db1 and images of
// inst that pilotlight did not make: untagged, tagged for another stack,
// and one image named exactly like a pilotlight point. It returns them as
// region -> ids (snapshots, images and the images' EBS snapshots).
func (w *world) foreignSet(inst string) map[string][]string {
	w.t.Helper()
	out := map[string][]string{}
	rp, rd := w.rds(w.P), w.rds(w.D)
	for i, tagset := range [][]rdstypes.Tag{nil, {{Key: aws.String("pilotlight:stack"), Value: aws.String("other")}, {Key: aws.String("pilotlight:managed-by"), Value: aws.String("pilotlight")}}, nil} {
		id := fmt.Sprintf("manual-db1-%d", i)
		s, err := rp.CreateDBSnapshot(w.ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("db1"), DBSnapshotIdentifier: aws.String(id), Tags: tagset})
		if err != nil {
			w.t.Fatal(err)
		}
		if _, err := rd.CopyDBSnapshot(w.ctx, &rds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: s.DBSnapshot.DBSnapshotArn,
			TargetDBSnapshotIdentifier: aws.String(id), SourceRegion: aws.String(w.P), Tags: tagset}); err != nil {
			w.t.Fatal(err)
		}
		out[w.P] = append(out[w.P], id)
		out[w.D] = append(out[w.D], id)
	}
	ep, ed := w.ec2(w.P), w.ec2(w.D)
	for _, name := range []string{"golden-1", "golden-2", "wp-web-20250101000000"} {
		im, err := ep.CreateImage(w.ctx, &ec2.CreateImageInput{InstanceId: aws.String(inst), Name: aws.String(name), NoReboot: aws.Bool(true)})
		if err != nil {
			w.t.Fatal(err)
		}
		cp, err := ed.CopyImage(w.ctx, &ec2.CopyImageInput{SourceImageId: im.ImageId, SourceRegion: aws.String(w.P), Name: aws.String(name)})
		if err != nil {
			w.t.Fatal(err)
		}
		for region, id := range map[string]string{w.P: *im.ImageId, w.D: *cp.ImageId} {
			d, err := w.ec2(region).DescribeImages(w.ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
			if err != nil {
				w.t.Fatal(err)
			}
			out[region] = append(out[region], id, *d.Images[0].BlockDeviceMappings[0].Ebs.SnapshotId)
		}
	}
	return out
}

// foreignIntact checks every foreign id still exists.
func (w *world) foreignIntact(set map[string][]string) {
	w.t.Helper()
	for region, list := range set {
		for _, id := range list {
			var err error
			switch {
			case strings.HasPrefix(id, "ami-"):
				var out *ec2.DescribeImagesOutput
				out, err = w.ec2(region).DescribeImages(w.ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
				if err == nil && len(out.Images) != 1 {
					err = fmt.Errorf("gone")
				}
			case strings.HasPrefix(id, "snap-"):
				if !w.snapshotExists(region, id) {
					err = fmt.Errorf("gone")
				}
			default:
				_, err = w.rds(region).DescribeDBSnapshots(w.ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(id)})
			}
			if err != nil {
				w.t.Errorf("foreign %s in %s: %v", id, region, err)
			}
		}
	}
}

// seedDBPoint makes a managed point of db1 taken at and its DR copy, as a
// cycle would (directly, to keep the test fast).
func (w *world) seedDBPoint(cfg *spec.Config, res string, at time.Time) {
	w.t.Helper()
	t := mustTarget(w.t, cfg, res)
	name := pointName(cfg.Stack, res, at, rdsIDMax)
	m := pointTags(cfg, t, res, at, "")
	out, err := w.rds(w.P).CreateDBSnapshot(w.ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String(res),
		DBSnapshotIdentifier: aws.String(name), Tags: tags.RDS(m)})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.rds(w.D).CopyDBSnapshot(w.ctx, &rds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: out.DBSnapshot.DBSnapshotArn,
		TargetDBSnapshotIdentifier: aws.String(name), SourceRegion: aws.String(w.P), Tags: tags.RDS(copyTags(Point{ID: name, tags: m}))}); err != nil {
		w.t.Fatal(err)
	}
}

// seedImagePoint does the same for an image of inst.
func (w *world) seedImagePoint(cfg *spec.Config, res, inst string, at time.Time) {
	w.t.Helper()
	t := mustTarget(w.t, cfg, res)
	name := amiName(cfg.Stack, res, at)
	m := pointTags(cfg, t, inst, at, "")
	im, err := w.ec2(w.P).CreateImage(w.ctx, &ec2.CreateImageInput{InstanceId: aws.String(inst), Name: aws.String(name), NoReboot: aws.Bool(true)})
	if err != nil {
		w.t.Fatal(err)
	}
	cp, err := w.ec2(w.D).CopyImage(w.ctx, &ec2.CopyImageInput{SourceImageId: im.ImageId, SourceRegion: aws.String(w.P), Name: aws.String(name)})
	if err != nil {
		w.t.Fatal(err)
	}
	for region, id := range map[string]string{w.P: *im.ImageId, w.D: *cp.ImageId} {
		tm := m
		if region == w.D {
			tm = copyTags(Point{ID: *im.ImageId, tags: m})
		}
		d, err := w.ec2(region).DescribeImages(w.ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
		if err != nil {
			w.t.Fatal(err)
		}
		if _, err := w.ec2(region).CreateTags(w.ctx, &ec2.CreateTagsInput{Resources: []string{id, *d.Images[0].BlockDeviceMappings[0].Ebs.SnapshotId},
			Tags: tags.EC2(tm)}); err != nil {
			w.t.Fatal(err)
		}
	}
}

func TestRetentionKeepsFiveAndNeverTouchesForeignPoints(t *testing.T) {
	forPairs(t, func(t *testing.T, P, D string) {
		w := newWorld(t, P, D)
		w.createDB("db1", false)
		inst := w.runInstance("web")
		body := func(n int) string {
			return fmt.Sprintf("protect:\n  databases:\n    - id: db1\n      keep: { primary: %d, dr: %d }\n"+
				"  images:\n    - name: web\n      instance: { id: %s }\n      keep: { primary: %d, dr: %d }\n", n, n, inst, n, n)
		}
		foreignSet := w.foreignSet(inst)
		many := w.config(body(100))
		for i := 0; i < 12; i++ {
			at := t0.Add(time.Duration(i) * 2 * time.Hour)
			w.seedDBPoint(many, "db1", at)
			w.seedImagePoint(many, "web", inst, at)
		}
		// The AMIs (and their snapshots) that keep=5 must delete: the 8
		// oldest of 13 in each region.
		doomedSnaps := map[string][]string{}
		for _, region := range []string{P, D} {
			ps := managed(w.list(many, region, "web"))
			if len(ps) != 12 {
				t.Fatalf("setup: %d images in %s", len(ps), region)
			}
			for _, p := range ps[4:] {
				doomedSnaps[region] = append(doomedSnaps[region], p.Snapshots...)
			}
		}

		five := w.config(body(5))
		last := t0.Add(24 * time.Hour)
		rep := w.mustBackup(w.env, five, last)
		for _, r := range rep.Results {
			if len(r.Deleted) != 16 {
				t.Errorf("%s deleted %d points, want 8 per region: %v", r.Resource, len(r.Deleted), r.Deleted)
			}
		}
		for _, res := range []string{"db1", "web"} {
			for _, region := range []string{P, D} {
				all := w.list(five, region, res)
				ms := managed(all)
				if len(ms) != 5 {
					t.Fatalf("%s in %s: %d managed points, want 5", res, region, len(ms))
				}
				sort.Slice(ms, func(i, j int) bool { return newer(ms[i], ms[j]) })
				if !ms[0].Created.Equal(last) || !ms[4].Created.Equal(last.Add(-8*time.Hour)) {
					t.Errorf("%s in %s: kept %s .. %s, want the newest five", res, region, ms[0].Created, ms[4].Created)
				}
			}
		}
		for region, snaps := range doomedSnaps {
			for _, s := range snaps {
				if w.snapshotExists(region, s) {
					t.Errorf("snapshot %s of a pruned image still exists in %s", s, region)
				}
			}
		}
		w.foreignIntact(foreignSet)
	})
}

// TestFaultyAWSFiveCycles runs five cycles with 10% of calls throttled and
// 2% failing with HTTP 500: every cycle finishes, no point is duplicated,
// and retention deletes exactly what it should.
func TestFaultyAWSFiveCycles(t *testing.T) {
	forPairs(t, func(t *testing.T, P, D string) {
		w := newWorld(t, P, D)
		w.createDB("db1", false)
		w.createDB("db2", true)
		w.createCluster("cl1")
		inst := w.runInstance("web")
		w.createKey("alias/dr")
		foreignSet := w.foreignSet(inst)
		cfg := w.config(`protect:
  databases:
    - { id: db1, every: 2h, keep: { primary: 3, dr: 2 } }
    - { id: db2, every: 2h, keep: { primary: 3, dr: 2 }, dr_kms_key: alias/dr }
    - { id: cl1, kind: cluster, every: 2h, keep: { primary: 3, dr: 2 } }
  images:
    - { name: web, instance: { tag: { Role: web } }, every: 2h, keep: { primary: 3, dr: 2 } }
`)
		w.proxy.AddRule(testenv.Rule{Throttle: 0.10, Fail500: 0.02})
		env := w.patientEnv()
		for i := 0; i < 5; i++ {
			now := t0.Add(time.Duration(i) * 2 * time.Hour)
			w.mustBackup(env, cfg, now)
			for _, res := range []string{"db1", "db2", "cl1", "web"} {
				prim, dr := managed(w.list(cfg, P, res)), managed(w.list(cfg, D, res))
				if len(prim) != min(i+1, 3) || len(dr) != min(i+1, 2) {
					t.Fatalf("cycle %d, %s: %d primary and %d DR points", i, res, len(prim), len(dr))
				}
				seen := map[time.Time]bool{}
				for _, p := range prim {
					if seen[p.Created] || !p.Available() {
						t.Fatalf("cycle %d, %s: duplicate or unfinished point %+v", i, res, p)
					}
					seen[p.Created] = true
				}
				copies := map[string]bool{}
				for _, d := range dr {
					if copies[d.CopyOf] || !d.Available() || d.Created.Before(now.Add(-2*time.Hour)) {
						t.Fatalf("cycle %d, %s: DR points %v", i, res, ids(dr))
					}
					copies[d.CopyOf] = true
				}
				if !prim[0].Created.Equal(now) || dr[0].CopyOf != prim[0].ID {
					t.Fatalf("cycle %d, %s: newest %s / %s", i, res, prim[0].ID, dr[0].ID)
				}
			}
		}
		faults := map[string]int{}
		for _, c := range w.proxy.Calls() {
			faults[c.Fault]++
		}
		if faults["throttle"] == 0 || faults["500"] == 0 {
			t.Fatalf("no faults injected: %v", faults)
		}
		t.Logf("calls by fault: %v", faults)
		w.proxy.ClearRules()
		w.foreignIntact(foreignSet)
	})
}

// pagedRDS pages DescribeDBSnapshots as AWS does (moto ignores MaxRecords
// and Marker): the loop must follow markers to see every snapshot.
type pagedRDS struct {
	rdsAPI
	size  int
	calls int
}

func (p *pagedRDS) DescribeDBSnapshots(ctx context.Context, in *rds.DescribeDBSnapshotsInput, opts ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error) {
	p.calls++
	start, _ := strconv.Atoi(aws.ToString(in.Marker))
	all := *in
	all.Marker, all.MaxRecords = nil, nil
	out, err := p.rdsAPI.DescribeDBSnapshots(ctx, &all, opts...)
	if err != nil {
		return nil, err
	}
	page := *out
	end := min(start+p.size, len(out.DBSnapshots))
	page.DBSnapshots = out.DBSnapshots[start:end]
	page.Marker = nil
	if end < len(out.DBSnapshots) {
		page.Marker = aws.String(strconv.Itoa(end))
	}
	return &page, nil
}

// pagedEC2 does the same for DescribeImages with NextToken.
type pagedEC2 struct {
	ec2API
	size  int
	calls int
}

func (p *pagedEC2) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, opts ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	p.calls++
	start, _ := strconv.Atoi(aws.ToString(in.NextToken))
	all := *in
	all.NextToken, all.MaxResults = nil, nil
	out, err := p.ec2API.DescribeImages(ctx, &all, opts...)
	if err != nil {
		return nil, err
	}
	page := *out
	end := min(start+p.size, len(out.Images))
	page.Images = out.Images[start:end]
	page.NextToken = nil
	if end < len(out.Images) {
		page.NextToken = aws.String(strconv.Itoa(end))
	}
	return &page, nil
}

func TestListingFollowsPages(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	w.createDB("db1", false)
	w.runInstance("web")
	cfg := w.config("protect:\n  databases:\n    - id: db1\n  images:\n    - { name: web, instance: { tag: { Role: web } }, keep: { primary: 5, dr: 5 } }\n")
	for i := 0; i < 5; i++ {
		w.mustBackup(w.env, cfg, t0.Add(time.Duration(i)*2*time.Hour), "db1", "web")
	}
	c := newClients(w.env)
	pr := &pagedRDS{rdsAPI: c.rds(w.P), size: 2}
	pe := &pagedEC2{ec2API: c.ec2(w.P), size: 2}
	c.rdsc[w.P], c.ec2c[w.P] = pr, pe
	for _, res := range []string{"db1", "web"} {
		ps, err := c.kind(mustTarget(t, cfg, res).kind).list(w.ctx, cfg, mustTarget(t, cfg, res), w.P)
		if err != nil || len(managed(ps)) != 5 {
			t.Fatalf("%s: %d points, %v", res, len(ps), err)
		}
	}
	if pr.calls != 3 || pe.calls != 3 {
		t.Fatalf("pages read: rds %d, ec2 %d; want 3 each", pr.calls, pe.calls)
	}
}

// slowRDS simulates what moto cannot: snapshots and copies that take time.
// Snapshots named in pending report creating/copying for that many more
// describes (-1: for ever).
type slowRDS struct {
	rdsAPI
	dr        bool
	mu        sync.Mutex
	pending   map[string]int
	describes int
}

func (s *slowRDS) status(id, real string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.pending[id]
	if !ok || n == 0 {
		return real
	}
	if n > 0 {
		s.pending[id] = n - 1
	}
	if s.dr {
		return "copying"
	}
	return "creating"
}

func (s *slowRDS) DescribeDBSnapshots(ctx context.Context, in *rds.DescribeDBSnapshotsInput, opts ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error) {
	out, err := s.rdsAPI.DescribeDBSnapshots(ctx, in, opts...)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.describes++
	s.mu.Unlock()
	for i := range out.DBSnapshots {
		sn := &out.DBSnapshots[i]
		sn.Status = aws.String(s.status(aws.ToString(sn.DBSnapshotIdentifier), aws.ToString(sn.Status)))
	}
	return out, nil
}

func (s *slowRDS) CreateDBSnapshot(ctx context.Context, in *rds.CreateDBSnapshotInput, opts ...func(*rds.Options)) (*rds.CreateDBSnapshotOutput, error) {
	out, err := s.rdsAPI.CreateDBSnapshot(ctx, in, opts...)
	if err == nil {
		out.DBSnapshot.Status = aws.String("creating")
	}
	return out, err
}

func (s *slowRDS) CopyDBSnapshot(ctx context.Context, in *rds.CopyDBSnapshotInput, opts ...func(*rds.Options)) (*rds.CopyDBSnapshotOutput, error) {
	out, err := s.rdsAPI.CopyDBSnapshot(ctx, in, opts...)
	if err == nil {
		out.DBSnapshot.Status = aws.String("pending")
	}
	return out, err
}

func slowClients(w *world, fast waits, pending map[string]int, drPending map[string]int) (*clients, *slowRDS, *slowRDS) {
	c := newClients(w.env)
	c.waits = fast
	sp := &slowRDS{rdsAPI: c.rds(w.P), pending: pending}
	sd := &slowRDS{rdsAPI: c.rds(w.D), pending: drPending, dr: true}
	c.rdsc[w.P], c.rdsc[w.D] = sp, sd
	return c, sp, sd
}

func TestCycleWaitsForSlowSnapshotsAndCopies(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	w.createDB("db1", false)
	cfg := w.config("protect:\n  databases:\n    - id: db1\n")
	name := "wp-db1-20260301080000"
	fast := waits{MinDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, MaxCreate: time.Minute, MaxCopy: time.Minute}
	c, sp, sd := slowClients(w, fast, map[string]int{name: 3}, map[string]int{name: 4})
	rep, err := backup(w.ctx, c, cfg, BackupOptions{Now: func() time.Time { return t0 }})
	if err != nil || rep.Results[0].Copied != name {
		t.Fatalf("%+v %v", rep, err)
	}
	// list + 3 creating + available; list + 4 copying + available
	if sp.describes != 5 || sd.describes != 6 {
		t.Fatalf("describes: primary %d, DR %d", sp.describes, sd.describes)
	}
}

// TestCopyInProgressIsWaitedOnNotDuplicated: a copy that outlives the
// cycle's wait fails the cycle; the next cycle finds it copying and waits
// for it instead of copying again or taking a new snapshot.
func TestCopyInProgressIsWaitedOnNotDuplicated(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "us-east-1", "us-west-2")
	w.createDB("db1", false)
	cfg := w.config("protect:\n  databases:\n    - id: db1\n")
	name := "wp-db1-20260301080000"
	fast := waits{MinDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, MaxCreate: time.Minute, MaxCopy: 30 * time.Millisecond}
	drPending := map[string]int{name: -1}
	c, _, sd := slowClients(w, fast, nil, drPending)
	_, err := backup(w.ctx, c, cfg, BackupOptions{Now: func() time.Time { return t0 }})
	if err == nil || !strings.Contains(err.Error(), "wait for DB snapshot "+name+": us-west-2") {
		t.Fatalf("want a copy wait timeout, got %v", err)
	}
	sd.mu.Lock()
	drPending[name] = 2 // the copy finishes two polls into the next cycle
	sd.mu.Unlock()
	c.waits.MaxCopy = time.Minute
	rep, err := backup(w.ctx, c, cfg, BackupOptions{Now: func() time.Time { return t0.Add(5 * time.Hour) }})
	if err != nil || rep.Results[0].Resumed != name || rep.Results[0].Created != "" || rep.Results[0].Copied != name {
		t.Fatalf("%+v %v", rep, err)
	}
	if n := w.calls(w.D, "CopyDBSnapshot"); n != 1 {
		t.Fatalf("CopyDBSnapshot called %d times", n)
	}
	if n := w.calls(w.P, "CreateDBSnapshot"); n != 1 {
		t.Fatalf("CreateDBSnapshot called %d times", n)
	}
}

// TestClusterCopiesRespectTheQuota slows every cluster snapshot copy so
// that eight run into Aurora's limit of five copies at a time.
func TestClusterCopiesRespectTheQuota(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	var b strings.Builder
	b.WriteString("protect:\n  databases:\n")
	for i := 0; i < 8; i++ {
		id := fmt.Sprintf("cl%d", i)
		w.createCluster(id)
		fmt.Fprintf(&b, "    - { id: %s, kind: cluster }\n", id)
	}
	cfg := w.config(b.String())
	w.proxy.AddRule(testenv.Rule{Match: testenv.Match{Region: w.D, Action: "CopyDBClusterSnapshot"}, Latency: 400 * time.Millisecond})
	c := newClients(w.env)
	c.quotas = newCopyQuotas() // not the process-wide one other tests share
	if _, err := backup(w.ctx, c, cfg, BackupOptions{Now: func() time.Time { return t0 }}); err != nil {
		t.Fatal(err)
	}
	if p := c.quotas.cluster.Peak(); p != 5 {
		t.Fatalf("peak cluster copies in flight %d, want 5", p)
	}
}
