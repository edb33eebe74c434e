package s3sync

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressEvery is how often the status line is redrawn.
const progressEvery = 500 * time.Millisecond

// startProgress redraws one status line on w until the returned stop is
// called, which prints the last line and a newline. The total is unknown
// while the listing runs, so the ETA appears once it has finished.
func startProgress(w io.Writer, st *syncStats, start time.Time) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fmt.Fprint(w, "\r\033[K"+progressLine(st, time.Since(start)))
			case <-done:
				fmt.Fprint(w, "\r\033[K"+progressLine(st, time.Since(start))+"\n")
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func progressLine(st *syncStats, elapsed time.Duration) string {
	copied, bytes := st.copied.Load(), st.bytes.Load()
	queued, listed := st.queued.Load(), st.listed.Load()
	secs := elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	rate, bps := float64(copied)/secs, float64(bytes)/secs
	line := fmt.Sprintf("listed %d · copied %d/%d objects, %s · %.0f obj/s, %s/s",
		listed, copied, queued, humanBytes(bytes), rate, humanBytes(int64(bps)))
	if f := st.failed.Load(); f > 0 {
		line += fmt.Sprintf(" · %d failed", f)
	}
	if !st.listingDone.Load() {
		return line + " · listing…"
	}
	left := queued - copied - st.failed.Load()
	leftBytes := st.queuedBytes.Load() - bytes
	if left <= 0 {
		return line
	}
	// Whichever of objects or bytes is the bottleneck sets the ETA.
	var eta float64
	if rate > 0 {
		eta = float64(left) / rate
	}
	if bps > 0 {
		eta = max(eta, float64(leftBytes)/bps)
	}
	if eta > 0 {
		line += " · ETA " + (time.Duration(eta) * time.Second).Round(time.Second).String()
	}
	return line
}

// humanBytes writes n in binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
