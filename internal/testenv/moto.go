// Package testenv is the testing face of internal/emulator: one shared
// moto_server per test binary, an isolated account per test, and AWS access
// through it. The emulator itself (moto, the fault proxy, AWS's clock) lives
// in internal/emulator, which the shipped binary may link; this package
// imports testing and is imported only by tests.
package testenv

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/pilotlight/pilotlight/internal/emulator"
)

// Moto is one running moto_server, with the test-facing helpers.
type Moto struct{ *emulator.Moto }

// Account is an isolated view of moto (see emulator.Account).
type Account = emulator.Account

// ErrNoMoto is returned when moto_server is not on PATH.
var ErrNoMoto = emulator.ErrNoMoto

// StartMoto starts a moto_server of the caller's own; Stop it when done.
func StartMoto(ctx context.Context) (*Moto, error) {
	m, err := emulator.StartMoto(ctx)
	if err != nil {
		return nil, err
	}
	return &Moto{m}, nil
}

// RandomAccountID returns a 12-digit account id.
func RandomAccountID() string { return emulator.RandomAccountID() }

var (
	shared     *Moto
	sharedErr  error
	sharedOnce sync.Once
)

// Shared returns the test binary's moto_server, started on first use. The
// package's TestMain must call Main so that it is stopped. Tests isolate
// themselves with Account (a fresh AWS account per test) rather than resets,
// so they may run in parallel.
func Shared(t testing.TB) *Moto {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = StartMoto(context.Background()) })
	if sharedErr != nil {
		if os.Getenv("CI") == "" && errors.Is(sharedErr, ErrNoMoto) {
			t.Skip(sharedErr.Error())
		}
		t.Fatal(sharedErr)
	}
	return shared
}

// Main runs the tests and stops the shared moto_server afterwards.
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	return code
}

// NewAccount starts an isolating proxy for one test (a fresh AWS account,
// so tests sharing one server never see each other's resources); it stops
// on cleanup. Environment-style use: set AWS_ENDPOINT_URL to its URL.
func (m *Moto) NewAccount(t testing.TB) *Account {
	t.Helper()
	a, err := m.OpenAccount(emulator.RandomAccountID())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}
