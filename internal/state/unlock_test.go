package state

import (
	"context"
	"errors"
	"os/exec"
	"testing"
)

// TestUnlockRefusesALiveHolder (reliability review M6): `unlock ID` freed
// the lock of a failover still running on the same host, and a second
// failover then ran the same journal beside it. A lock whose holder runs
// on this host is refused unless forced; once the holder is gone, the
// plain unlock works.
func TestUnlockRefusesALiveHolder(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			a, b := be.open(t)
			ctx := context.Background()
			for _, force := range []bool{false, true} {
				// The holder: another process on this host, alive.
				holder := exec.Command("sleep", "60")
				if err := holder.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
				getpid = func() int { return holder.Process.Pid }
				_, err := a.Lock(ctx, "wordpress", "failover")
				getpid = realGetpid
				if err != nil {
					t.Fatal(err)
				}
				h, _ := b.Holder(ctx, "wordpress")
				err = b.ForceUnlock(ctx, "wordpress", h.ID)
				if !errors.Is(err, ErrHolderAlive) {
					t.Fatalf("unlock of a live holder's lock: %v", err)
				}
				if got, _ := b.Holder(ctx, "wordpress"); got == nil || got.ID != h.ID {
					t.Fatalf("a refused unlock released the lock: %+v", got)
				}
				if force {
					if err := Unlock(ctx, b, "wordpress", h.ID, UnlockOptions{Force: true}); err != nil {
						t.Fatalf("--force: %v", err)
					}
				} else {
					_ = holder.Process.Kill()
					_ = holder.Wait()
					if err := Unlock(ctx, b, "wordpress", h.ID, UnlockOptions{}); err != nil {
						t.Fatalf("unlock after the holder died: %v", err)
					}
				}
				if got, _ := a.Holder(ctx, "wordpress"); got != nil {
					t.Fatalf("still locked: %+v", got)
				}
			}
		})
	}
}

var realGetpid = getpid
