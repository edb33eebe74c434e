package cli

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pilotlight/pilotlight/internal/awsenv"
)

// TestPointsEndsOnAHungEndpoint: `points` against an endpoint that accepts
// and never answers ends with an error naming the silence, within about
// one response timeout (M1: it hung 580 s until killed). The timeout is
// shortened here; the default is awsenv.DefaultResponseTimeout (20 s).
func TestPointsEndsOnAHungEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var held []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	app := &App{Stdout: &out, Stderr: &errb, EnvOptions: &awsenv.Options{Endpoint: "http://" + l.Addr().String(),
		ResponseTimeout: time.Second, Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", "")}}
	start := time.Now()
	code := RunApp(ctx, app, []string{"points", "--config", "../../examples/wordpress/pilotlight.yaml"})
	took := time.Since(start)
	if code != ExitFailed || !strings.Contains(errb.String(), "did not answer within 1s") {
		t.Fatalf("exit %d after %s:\n%s\n%s", code, took, out.String(), errb.String())
	}
	if took > 5*time.Second {
		t.Fatalf("points took %s on a hung endpoint, want about one response timeout (1s)", took)
	}
	t.Logf("points on a hung endpoint: exit %d after %s", code, took)
}
