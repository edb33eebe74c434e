package awsenv

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// hungEndpoint accepts connections and never answers, as the hung endpoint
// (or half-open proxy) of finding M1 did. It counts the requests it got.
func hungEndpoint(t *testing.T) (string, func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return len(conns) }
}

// TestHungEndpointFailsFast: a call to an endpoint that accepts and never
// answers ends with an error naming the host and the timeout, within one
// response timeout, and is not retried (M1). Before, it waited forever.
func TestHungEndpointFailsFast(t *testing.T) {
	url, accepted := hungEndpoint(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env, err := Load(ctx, Options{Endpoint: url, ResponseTimeout: 500 * time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = env.Account(ctx, "cn-north-1")
	took := time.Since(start)
	if err == nil {
		t.Fatal("a hung endpoint answered")
	}
	if ctx.Err() != nil {
		t.Fatalf("the call hung until the test's own deadline (%s): %v", took, err)
	}
	var na *NoAnswerError
	if !errors.As(err, &na) || !strings.Contains(err.Error(), strings.TrimPrefix(url, "http://")) || !strings.Contains(err.Error(), "did not answer within 500ms") {
		t.Fatalf("unclear error after %s: %v", took, err)
	}
	if took > 2*time.Second {
		t.Fatalf("took %s, want about one response timeout (500ms)", took)
	}
	if n := accepted(); n != 1 {
		t.Fatalf("%d connections: a silent endpoint must not be retried", n)
	}
	t.Logf("hung endpoint: %s after %s", err, took)
}

// TestDefaultClientIsBounded: without options, the transport has the
// documented dial, TLS and response timeouts (the SDK's has none for a
// response).
func TestDefaultClientIsBounded(t *testing.T) {
	c := boundedClient(DefaultResponseTimeout)
	tr := c.GetTransport()
	if tr.ResponseHeaderTimeout != DefaultResponseTimeout || tr.TLSHandshakeTimeout != TLSHandshakeTimeout || c.GetDialer().Timeout != DialTimeout {
		t.Fatalf("transport: header %s, TLS %s, dial %s", tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout, c.GetDialer().Timeout)
	}
	if rt, ok := c.GetReadTimeout(); !ok || rt != DefaultResponseTimeout {
		t.Fatalf("read timeout %s %v", rt, ok)
	}
}
