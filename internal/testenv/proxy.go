package testenv

import "github.com/pilotlight/pilotlight/internal/emulator"

// The fault proxy lives in internal/emulator (the demo uses it too); tests
// keep spelling it testenv.X.
type (
	Proxy = emulator.Proxy
	Call  = emulator.Call
	Match = emulator.Match
	Rule  = emulator.Rule
	Hold  = emulator.Hold
)

// NewProxy starts a fault proxy to target (see emulator.NewProxy).
func NewProxy(target string, seed int64) (*Proxy, error) { return emulator.NewProxy(target, seed) }
