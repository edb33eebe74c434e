package points

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/emulator"
)

// TestBackupResumesACopyOnAWSClock: a cycle stopped while its cross-region
// copy is still `copying` on AWS's clock (a 20 GB copy takes 18 AWS
// minutes); the next cycle finishes that point, waiting the copy out,
// instead of taking a new snapshot or copying again.
func TestBackupResumesACopyOnAWSClock(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "us-east-1", "us-west-2")
	w.createDB("db1", false)
	cfg := w.config("protect:\n  databases:\n    - id: db1\n")
	w.proxy.EnableClock(emulator.ClockOptions{Minute: 100 * time.Millisecond})
	c := newClients(w.env)
	c.waits = waits{MinDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond, MaxCreate: time.Minute, MaxCopy: time.Minute}

	ctx, stop := context.WithCancel(w.ctx)
	done := make(chan error, 1)
	go func() {
		_, err := backup(ctx, c, cfg, BackupOptions{Now: func() time.Time { return t0 }})
		done <- err
	}()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for w.calls(w.D, "CopyDBSnapshot") == 0 {
		select {
		case err := <-done:
			t.Fatalf("the cycle ended before it copied: %v", err)
		case <-tick.C:
		}
	}
	stop()
	if err := <-done; err == nil {
		t.Fatal("the stopped cycle reports success")
	}
	name := "wp-db1-20260301080000"
	out, err := rds.NewFromConfig(w.env.For(w.D)).DescribeDBSnapshots(w.ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(name)})
	if err != nil || len(out.DBSnapshots) != 1 || aws.ToString(out.DBSnapshots[0].Status) == "available" {
		t.Fatalf("the DR copy should still be in progress when the cycle stops: %+v %v", out, err)
	}

	rep, err := backup(w.ctx, c, cfg, BackupOptions{Now: func() time.Time { return t0.Add(5 * time.Hour) }})
	if err != nil {
		t.Fatalf("next cycle: %v (%+v)", err, rep)
	}
	r := rep.Results[0]
	if r.Resumed != name || r.Created != "" || r.Copied != name {
		t.Fatalf("next cycle did not finish the stopped point: %+v", r)
	}
	if n, m := w.calls(w.P, "CreateDBSnapshot"), w.calls(w.D, "CopyDBSnapshot"); n != 1 || m != 1 {
		t.Fatalf("CreateDBSnapshot %d, CopyDBSnapshot %d times; want once each", n, m)
	}
}
