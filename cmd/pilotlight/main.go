// Command pilotlight is cross-region pilot-light disaster recovery for an
// AWS stack. All logic lives in internal/; see internal/cli.
package main

import "github.com/pilotlight/pilotlight/internal/cli"

func main() { cli.Main() }
