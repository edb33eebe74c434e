package emulator

import "github.com/pilotlight/pilotlight/internal/awstime"

// Durations is the clock's table of how long AWS takes. Its figures and
// their sources live in one place, internal/awstime, which recovery's
// prediction reads too; this type adds the clock's own uses of the table
// (SeedSequence).
type Durations awstime.Durations

// Sized is a duration that grows with the data: Base + PerGB × GB.
type Sized = awstime.Sized

// DefaultDurations is the table the clock uses unless told otherwise.
func DefaultDurations() Durations { return Durations(awstime.Default()) }
