// Package awsenv turns the standard credential chain into one aws.Config per
// region, with the endpoint override every AWS tool honours
// (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>), a bounded adaptive retry
// for throttling, bounded HTTP calls (see Timeouts), and the partition of
// the stack for ARNs. It builds no service clients: packages that call a
// service build their own.
package awsenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/pilotlight/pilotlight/internal/partition"
)

// ErrUnknownProfile is a profile (--profile, AWS_PROFILE) that no shared
// config or credentials file defines: a usage error, not an AWS failure.
var ErrUnknownProfile = errors.New("no such AWS profile")

// Options tune how configs are loaded.
type Options struct {
	// Profile selects a shared-config profile; empty uses the chain's default.
	Profile string
	// MaxAttempts bounds retries per call (default 5; AWS_MAX_ATTEMPTS wins).
	MaxAttempts int
	// MaxBackoff caps the wait between attempts (default 5s).
	MaxBackoff time.Duration
	// StandardRetry uses the standard retry mode instead of adaptive. The
	// adaptive mode's client-side rate limiter learns AWS's real rates;
	// against an emulator that injects throttling it only stretches runs.
	StandardRetry bool
	// HTTPClient replaces the default transport, e.g. in tests.
	HTTPClient *http.Client
	// Endpoint, when set, overrides AWS_ENDPOINT_URL (tests and the demo
	// point at moto this way without touching the process environment).
	Endpoint string
	// Credentials, when set, replace the credential chain.
	Credentials aws.CredentialsProvider
	// PollScale shrinks pilotlight's polling delays for an emulator that
	// keeps AWS's time at a scale (the demo's --aws-time: 1/120 when an AWS
	// minute lasts half a second), so that a poll every 15 s still comes
	// every 15 AWS seconds. 0 or 1 on AWS. Wait limits are not scaled.
	PollScale float64
	// ResponseTimeout bounds the wait for an answer (response headers, and
	// then any silence within a body) per attempt; default
	// DefaultResponseTimeout. Ignored with HTTPClient.
	ResponseTimeout time.Duration
}

// Env holds the base config and hands out per-region copies.
type Env struct {
	base      aws.Config
	account   string
	pollScale float64
	mu        sync.Mutex
}

// Load resolves credentials and settings once with the standard chain (env,
// shared config and profile, SSO, IMDS). Region is set per call by For.
func Load(ctx context.Context, opts Options) (*Env, error) {
	attempts := opts.MaxAttempts
	if attempts == 0 {
		attempts = 5
	}
	if n, err := strconv.Atoi(os.Getenv("AWS_MAX_ATTEMPTS")); err == nil && n > 0 {
		// AWS_MAX_ATTEMPTS wins, as in every SDK; the rest of our retryer
		// (which errors are retried) stays.
		attempts = n
	}
	maxBackoff := opts.MaxBackoff
	if maxBackoff == 0 {
		maxBackoff = 5 * time.Second
	}
	loaders := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			std := func(so *retry.StandardOptions) {
				so.MaxAttempts = attempts
				so.MaxBackoff = maxBackoff
				// An endpoint that took a request and never answered is
				// asked again only by the next run: retrying would multiply
				// the wait, and would resend a create of unknown outcome.
				so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
					var na *NoAnswerError
					if errors.As(err, &na) {
						return aws.FalseTernary
					}
					return aws.UnknownTernary
				})}, so.Retryables...)
			}
			if opts.StandardRetry {
				return retry.NewStandard(std)
			}
			return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
				o.StandardOptions = append(o.StandardOptions, std)
			})
		}),
	}
	if opts.Profile != "" {
		loaders = append(loaders, config.WithSharedConfigProfile(opts.Profile))
	}
	if opts.Endpoint != "" {
		loaders = append(loaders, config.WithBaseEndpoint(opts.Endpoint))
	}
	if opts.Credentials != nil {
		loaders = append(loaders, config.WithCredentialsProvider(opts.Credentials))
	}
	respTimeout := opts.ResponseTimeout
	if respTimeout <= 0 {
		respTimeout = DefaultResponseTimeout
	}
	if opts.HTTPClient != nil {
		loaders = append(loaders, config.WithHTTPClient(opts.HTTPClient))
	} else {
		loaders = append(loaders, config.WithHTTPClient(boundedClient(respTimeout)))
	}
	loaders = append(loaders, config.WithAPIOptions([]func(*middleware.Stack) error{func(s *middleware.Stack) error {
		return s.Finalize.Add(noAnswer{timeout: respTimeout}, middleware.After)
	}}))
	cfg, err := config.LoadDefaultConfig(ctx, loaders...)
	var pe config.SharedConfigProfileNotExistError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("load AWS config: %w %q (looked in %s; set --profile or AWS_PROFILE to one that exists)",
			ErrUnknownProfile, pe.Profile, strings.Join(pe.Filename, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return &Env{base: cfg, pollScale: opts.PollScale}, nil
}

// For returns the config for one region.
func (e *Env) For(region string) aws.Config {
	c := e.base.Copy()
	c.Region = region
	return c
}

// EndpointOverridden reports whether calls go to an endpoint other than
// AWS's own (an emulator): S3 clients then need path-style addressing.
func (e *Env) EndpointOverridden() bool {
	return e.base.BaseEndpoint != nil || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
}

// Account returns the caller's account id, asking STS in region once.
func (e *Env) Account(ctx context.Context, region string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.account != "" {
		return e.account, nil
	}
	out, err := sts.NewFromConfig(e.For(region)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("get caller identity: %s: %w", region, err)
	}
	e.account = aws.ToString(out.Account)
	return e.account, nil
}

// ARN builds an ARN for a resource in region, in that region's partition.
func (e *Env) ARN(ctx context.Context, service, region, resource string) (string, error) {
	p, err := partition.Of(region)
	if err != nil {
		return "", err
	}
	acct, err := e.Account(ctx, region)
	if err != nil {
		return "", err
	}
	return p.ARN(service, region, acct, resource), nil
}

// Poll is a polling delay d in the endpoint's time: d itself on AWS.
func (e *Env) Poll(d time.Duration) time.Duration {
	if e == nil || e.pollScale <= 0 || e.pollScale == 1 {
		return d
	}
	return max(time.Millisecond, time.Duration(float64(d)*e.pollScale))
}
