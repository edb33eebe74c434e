// Package emulator runs the test world pilotlight is shown against: a real
// moto_server on a loopback port, a fault-injecting proxy in front of it and,
// when enabled, AWS's clock (asynchronous states that moto never shows). It
// is used by the demo and, through testenv, by tests; it must not import
// testing, so that the shipped binary does not link it, and product code
// never depends on it for behaviour.
package emulator

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Moto is one running moto_server process.
type Moto struct {
	URL  string
	Port int
	cmd  *exec.Cmd
	dir  string
	logs *os.File
}

// ErrNoMoto is returned when moto_server is not on PATH.
var ErrNoMoto = errors.New("moto_server not found on PATH: install moto 5.2.1 (pip install 'moto[server]==5.2.1')")

// smallAMIs keeps DescribeImages fast: moto's default catalogue has 1,177
// images in us-east-1 and makes every describe take ~0.9 s.
const smallAMIs = `[
 {"ami_id": "ami-0a1b2c3d4e5f60001", "name": "al2023-ami-base", "description": "Amazon Linux 2023",
  "owner_id": "137112412989", "public": true, "virtualization_type": "hvm", "architecture": "x86_64",
  "state": "available", "platform": null, "image_type": "machine", "hypervisor": "xen",
  "root_device_name": "/dev/xvda", "root_device_type": "ebs", "sriov": "simple"}
]`

// StartMoto starts moto_server on a free 127.0.0.1 port and waits until the
// child it started answers. Stop it with Stop.
func StartMoto(ctx context.Context) (*Moto, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, ErrNoMoto
	}
	dir, err := os.MkdirTemp("", "pilotlight-moto-")
	if err != nil {
		return nil, err
	}
	amis := filepath.Join(dir, "amis.json")
	if err := os.WriteFile(amis, []byte(smallAMIs), 0o600); err != nil {
		return nil, err
	}
	logs, err := os.Create(filepath.Join(dir, "moto.log"))
	if err != nil {
		return nil, err
	}
	var lastErr error
	for try := 0; try < 5; try++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
		cmd.Env = append(os.Environ(), "MOTO_AMIS_PATH="+amis, "MOTO_IAM_LOAD_MANAGED_POLICIES=false")
		cmd.Stdout, cmd.Stderr = logs, logs
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start moto_server: %w", err)
		}
		m := &Moto{URL: "http://127.0.0.1:" + strconv.Itoa(port), Port: port, cmd: cmd, dir: dir, logs: logs}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		if err := m.waitReady(ctx, exited); err != nil {
			lastErr = err
			m.kill()
			continue
		}
		return m, nil
	}
	return nil, fmt.Errorf("moto_server did not start: %w (log: %s)", lastErr, logs.Name())
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls until our child answers; a child that exits means the
// port was taken by someone else, whose answers must not be mistaken for ours.
func (m *Moto) waitReady(ctx context.Context, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	backoff := 20 * time.Millisecond
	for {
		select {
		case <-exited:
			return errors.New("moto_server exited early (port taken?)")
		default:
		}
		resp, err := http.Get(m.URL + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			select {
			case <-exited:
				return errors.New("moto_server exited early (port taken?)")
			default:
			}
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("moto_server not answering on %s: %w", m.URL, ctx.Err())
		case <-exited:
			return errors.New("moto_server exited early (port taken?)")
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 200*time.Millisecond)
	}
}

// Reset drops every resource in every account and region.
func (m *Moto) Reset() error {
	resp, err := http.Post(m.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	resp.Body.Close()
	return nil
}

func (m *Moto) kill() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// Stop ends the server and removes its files.
func (m *Moto) Stop() {
	m.kill()
	if m.logs != nil {
		m.logs.Close()
	}
	if m.dir != "" {
		os.RemoveAll(m.dir)
	}
}

// Account is an isolated view of moto: a proxy that stamps every request
// with its own 12-digit account id (moto's x-moto-account-id header), so
// tests sharing one server never see each other's resources.
type Account struct {
	ID  string
	URL string
	srv *http.Server
}

// OpenAccount starts an isolating proxy for account id (RandomAccountID for
// a fresh one); Close stops it.
func (m *Moto) OpenAccount(id string) (*Account, error) {
	target, err := url.Parse(m.URL)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	base := rp.Director
	rp.Director = func(r *http.Request) {
		base(r)
		r.Header.Set("x-moto-account-id", id)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: rp}
	go func() { _ = srv.Serve(l) }()
	return &Account{ID: id, URL: "http://" + l.Addr().String(), srv: srv}, nil
}

// Close stops the proxy.
func (a *Account) Close() { _ = a.srv.Close() }

// RandomAccountID returns a 12-digit account id.
func RandomAccountID() string {
	var b [8]byte
	_, _ = io.ReadFull(rand.Reader, b[:])
	return fmt.Sprintf("%012d", binary.BigEndian.Uint64(b[:])%1e12)
}
