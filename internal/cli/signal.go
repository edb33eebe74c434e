package cli

import (
	"context"
	"os/signal"
	"syscall"
)

// signalContext is cancelled on the first Ctrl-C or SIGTERM: long verbs stop
// starting new work, let running steps reach a safe point and record it.
// A second signal kills the process the default way.
func signalContext() (context.Context, func()) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // restore default handling so a second signal ends the process
	}()
	return ctx, stop
}
