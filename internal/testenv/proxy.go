package testenv

import "github.com/pilotlight/pilotlight/internal/emulator"

// The fault proxy and AWS's clock live in internal/emulator (the demo uses
// them too); tests may keep spelling them testenv.X.
type (
	Proxy        = emulator.Proxy
	Call         = emulator.Call
	Match        = emulator.Match
	Rule         = emulator.Rule
	Hold         = emulator.Hold
	Clock        = emulator.Clock
	ClockOptions = emulator.ClockOptions
	Durations    = emulator.Durations
	DNS          = emulator.DNS
)

// NewProxy starts a fault proxy to target (see emulator.NewProxy).
func NewProxy(target string, seed int64) (*Proxy, error) { return emulator.NewProxy(target, seed) }

// NewDNS models Route 53's answers for the records api reads, with the
// regions p kills and revives (see emulator.NewDNS).
func NewDNS(p *Proxy, api emulator.Route53API) *DNS { return emulator.NewDNS(p, api) }
