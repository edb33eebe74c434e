package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/serve"
	"github.com/pilotlight/pilotlight/internal/state"
)

func init() { register(newServeCmd) }

// serveOptions are the serve verb's flags.
type serveOptions struct {
	Listen string
	// EMF writes each run's metrics to stdout as CloudWatch
	// embedded-metric-format lines, for where stdout reaches CloudWatch
	// Logs (ECS awslogs, the CloudWatch agent), so deploy's alarms see them.
	EMF       bool
	Only      []string
	MaxJitter time.Duration
	Seed      uint64
	Parallel  int
	Grace     time.Duration
	TZ        string
	// ready, when set (tests), receives the HTTP address once listening.
	ready chan<- string
}

func newServeCmd(app *App) *cobra.Command {
	opts := serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run every protected resource on its schedule, with metrics, health and a status page",
		Long: `serve runs the protect plane unattended: each database and image is backed up
and each bucket verified (and missing objects back-filled) on its own
schedule (every: 2h, rate(2 hours) or cron(0 */2 * * ? *), as EventBridge
takes them). A resource never runs twice at once; fire times get a bounded,
seeded random delay so that resources do not hit AWS at the same second.

On SIGTERM or Ctrl-C serve stops scheduling and lets runs in progress finish
for --grace; after it they are cancelled and recorded as interrupted (the
next run resumes the unfinished point instead of taking another). Each
resource's last run is kept in the state store, so a restart continues the
schedule rather than running everything at once.

HTTP (127.0.0.1 by default): /metrics (Prometheus), /healthz, /status.json
and a status page at /.`,
		Example: `  pilotlight serve
  pilotlight serve --listen 127.0.0.1:9464 --grace 10m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd.Context(), app, opts) },
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:9464", "HTTP address for /metrics, /healthz and the status page")
	f.StringArrayVar(&opts.Only, "only", nil, "only this resource (repeatable)")
	f.BoolVar(&opts.EMF, "emf", false, "also write each run's metrics to stdout as CloudWatch embedded-metric-format lines")
	f.DurationVar(&opts.MaxJitter, "max-jitter", 2*time.Minute, "largest random delay added to a fire time (also at most a tenth of the period); negative turns it off")
	f.Uint64Var(&opts.Seed, "jitter-seed", 0, "seed of the jitter (0: random)")
	f.IntVar(&opts.Parallel, "parallel", 4, "runs in progress at once across resources")
	f.DurationVar(&opts.Grace, "grace", 5*time.Minute, "how long runs in progress may finish after SIGTERM")
	f.StringVar(&opts.TZ, "timezone", "UTC", "time zone of cron() schedules (IANA name)")
	return cmd
}

func runServe(ctx context.Context, app *App, opts serveOptions) error {
	cfg, err := app.LoadConfig()
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(opts.TZ)
	if err != nil {
		return Exit(ExitUsage, fmt.Errorf("--timezone: %w", err))
	}
	jobs, err := serve.Jobs(cfg, loc)
	if err != nil {
		return Exit(ExitUsage, err)
	}
	if jobs, err = serve.Select(jobs, opts.Only); err != nil {
		return Exit(ExitUsage, err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return Exit(ExitUsage, fmt.Errorf("--listen %s: %w", opts.Listen, err))
	}
	defer ln.Close()
	env, err := app.Env(ctx)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	store, err := state.Open(ctx, cfg, env)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	defer store.Close()
	var emf *serve.EMF
	if opts.EMF {
		emf = &serve.EMF{Stack: cfg.Stack, W: app.Stdout}
	}
	d, err := serve.New(serve.Options{
		Stack: cfg.Stack, Jobs: jobs, Store: store,
		Runner:    &serve.AWSRunner{Env: env, Cfg: cfg, Store: store, Log: app.Log},
		EMF:       emf,
		MaxJitter: opts.MaxJitter, Seed: opts.Seed, Parallelism: opts.Parallel, Grace: opts.Grace, Log: app.Log,
	})
	if err != nil {
		return Exit(ExitUsage, err)
	}
	srv := newStatusServer(d.Handler(), statusTimeouts)
	httpErr := make(chan error, 1)
	go func() { httpErr <- srv.Serve(ln) }()
	app.Log.Info("listening", "addr", ln.Addr().String(), "stack", cfg.Stack, "resources", len(jobs))
	if opts.ready != nil {
		opts.ready <- ln.Addr().String()
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		// A dead HTTP server is a dead daemon to its monitor: stop too.
		if err := <-httpErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			app.Log.Error("http server failed", "error", err)
			stop()
		}
	}()
	runErr := d.Run(runCtx)
	// /healthz answers 503 until here, so a monitor sees the drain.
	shCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shCtx)
	if runErr != nil {
		return Exit(ExitFailed, runErr)
	}
	return app.Print(map[string]any{"stopped": true, "running_at_stop": d.Running()}, func(w io.Writer) {
		fmt.Fprintln(w, "serve stopped")
	})
}

// httpTimeouts bound the status server's connections.
type httpTimeouts struct{ header, read, write, idle time.Duration }

var statusTimeouts = httpTimeouts{header: 10 * time.Second, read: 30 * time.Second, write: 60 * time.Second, idle: 60 * time.Second}

// newStatusServer serves /metrics, /healthz and the status page. M8: idle
// and trickling clients must not hold connections (and the file
// descriptors the daemon's AWS calls and state writes need) for ever.
func newStatusServer(h http.Handler, t httpTimeouts) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: t.header, ReadTimeout: t.read,
		WriteTimeout: t.write, IdleTimeout: t.idle, MaxHeaderBytes: 64 << 10}
}
