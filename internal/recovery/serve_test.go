package recovery_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestServeAsAProcess runs `pilotlight serve` as a real process with the
// database on `every: 2s`: /metrics shows the copy count rising over
// several cycles, SIGTERM ends it with exit 0, and every snapshot it took
// has its DR copy (nothing half-made left unrecorded).
func TestServeAsAProcess(t *testing.T) {
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	env := testenv.AWS(t, acct.URL)
	base := recovery.TestConfig(t, "us-east-1", "us-west-2", spec.DNSFailoverRecords)
	src, _ := os.ReadFile(base.File)
	fast := strings.Replace(string(src), "keep: { primary: 3, dr: 3 } }", "keep: { primary: 3, dr: 3 }, every: 2s }", 1)
	if fast == string(src) {
		t.Fatal("config mutation did not apply")
	}
	if err := os.WriteFile(base.File, []byte(fast), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := spec.Load(base.File)
	if err != nil {
		t.Fatal(err)
	}
	recovery.SeedProduction(t, env, cfg)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var stderr bytes.Buffer
	cmd := child(acct.URL, "serve", "--config", cfg.File, "--listen", addr, "--only", "shop-db", "--jitter-seed", "1", "--grace", "30s")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	count := regexp.MustCompile(`pilotlight_copy_duration_seconds_count\{[^}]*resource="shop-db"[^}]*\} (\d+)`)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	seen, delay := 0, 100*time.Millisecond
	for seen < 3 {
		select {
		case <-ctx.Done():
			t.Fatalf("serve ran %d cycles in 90 s\n%s", seen, stderr.String())
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Second)
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := count.FindSubmatch(body); m != nil {
			n, _ := strconv.Atoi(string(m[1]))
			if n < seen {
				t.Fatalf("copy count went down: %d -> %d", seen, n)
			}
			seen = n
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not exit after SIGTERM\n%s", stderr.String())
	}
	primary, err := points.List(context.Background(), env, cfg, cfg.Primary.Region, "shop-db")
	if err != nil {
		t.Fatal(err)
	}
	dr, err := points.List(context.Background(), env, cfg, cfg.DR.Region, "shop-db")
	if err != nil {
		t.Fatal(err)
	}
	copied := map[string]bool{}
	for _, p := range dr {
		copied[p.CopyOf] = true
	}
	for _, p := range primary {
		if p.Managed && !copied[p.ID] {
			t.Fatalf("snapshot %s has no DR copy after a graceful stop", p.ID)
		}
	}
}
