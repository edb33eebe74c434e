package emulator

import (
	"testing"
	"time"
)

// The seed's sequence is its four steps in order, each from the table: a
// 500 GB database only lengthens the restore.
func TestSeedSequence(t *testing.T) {
	d := DefaultDurations()
	small, big := d.SeedSequence(20), d.SeedSequence(500)
	if len(small) != 4 || small[1].Took != d.DBRestore.For(20) || small[2].Took != d.CacheCluster {
		t.Fatalf("seed sequence at 20 GB: %+v", small)
	}
	if diff := SeedTotal(big) - SeedTotal(small); diff != 480*d.DBRestore.PerGB {
		t.Fatalf("500 GB adds %v to the seed's sequence, want the restore's %v", diff, 480*d.DBRestore.PerGB)
	}
	if got := SeedTotal(small); got != time.Minute+d.DBRestore.For(20)+d.CacheCluster+5*time.Minute {
		t.Fatalf("total %v", got)
	}
}
