package points

import (
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/emulator"
)

// TestBackupOnAWSClock runs one protect cycle with AWS's clock on the
// proxy (internal/emulator): snapshots are `creating`, copies
// `pending`/`copying` for as long as their size says, a copied AMI is not
// found for a while, then `pending`. The cycle must wait them all out and
// finish every point, as it must on AWS. Only the polling is sped up (the
// product polls every 15 s at least; at this scale that is half an hour).
func TestBackupOnAWSClock(t *testing.T) {
	forPairs(t, func(t *testing.T, P, D string) {
		w := newWorld(t, P, D)
		w.createDB("db1", false)
		w.createCluster("cl1")
		cfg := w.config("protect:\n  databases:\n    - id: db1\n    - id: cl1\n      kind: cluster\n")
		k := w.proxy.EnableClock(emulator.ClockOptions{Minute: 100 * time.Millisecond})
		c := newClients(w.env)
		c.waits = waits{MinDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond, MaxCreate: time.Minute, MaxCopy: time.Minute}
		start := time.Now()
		rep, err := backup(w.ctx, c, cfg, BackupOptions{Now: func() time.Time { return t0 }})
		if err != nil {
			t.Fatalf("backup on AWS's clock: %v (%+v)", err, rep)
		}
		for _, r := range rep.Results {
			if r.Created == "" || r.Copied == "" || r.Error != "" {
				t.Errorf("%s: %+v", r.Resource, r)
			}
		}
		took := time.Since(start)
		t.Logf("cycle took %v real = %v at AWS durations", took, k.AWS(took).Round(time.Second))
		// The slowest point (a 20 GB cross-region DB snapshot copy after
		// its snapshot) bounds the cycle from below.
		if min := k.Real(k.Durations().DBSnapshot.For(20) + k.Durations().DBSnapshotCopy.For(20)); took < min*9/10 {
			t.Fatalf("cycle finished in %v, before AWS could have made and copied the DB snapshot (%v)", took, min)
		}
	})
}

// TestImageBackupOnAWSClock: right after CopyImage, EC2 answers
// InvalidAMIID.NotFound for a while (eventual consistency); the cycle must
// keep waiting rather than fail the point.
func TestImageBackupOnAWSClock(t *testing.T) {
	forPairs(t, func(t *testing.T, P, D string) {
		w := newWorld(t, P, D)
		w.runInstance("web")
		cfg := w.config("protect:\n  images:\n    - name: web\n      instance: { tag: { Role: web } }\n")
		w.proxy.EnableClock(emulator.ClockOptions{Minute: 100 * time.Millisecond})
		c := newClients(w.env)
		c.waits = waits{MinDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond, MaxCreate: time.Minute, MaxCopy: time.Minute}
		rep, err := backup(w.ctx, c, cfg, BackupOptions{Now: func() time.Time { return t0 }})
		if err != nil || rep.Results[0].Copied == "" {
			t.Fatalf("image backup on AWS's clock: %v (%+v)", err, rep)
		}
	})
}
