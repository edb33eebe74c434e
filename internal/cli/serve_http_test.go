package cli

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// M8: 91 idle clients held the daemon's connections (and descriptors)
// for ever. A client that sends nothing, and one that goes idle after a
// request, are disconnected by the server within its timeouts.
func TestStatusServerDropsSilentAndIdleClients(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newStatusServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }),
		httpTimeouts{header: 200 * time.Millisecond, read: 300 * time.Millisecond, write: time.Second, idle: 300 * time.Millisecond})
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	closedWithin := func(c net.Conn, d time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, c)
		// The server closed it (EOF) rather than our deadline passing.
		ne, ok := err.(net.Error)
		return err == nil || !(ok && ne.Timeout())
	}

	silent, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if !closedWithin(silent, 3*time.Second) {
		t.Fatal("a client that sends nothing kept its connection")
	}

	idle, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("request: %v %v", resp, err)
	}
	resp.Body.Close()
	if !closedWithin(idle, 3*time.Second) {
		t.Fatal("a keep-alive client that went idle kept its connection")
	}
}
