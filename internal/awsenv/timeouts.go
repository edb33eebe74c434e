package awsenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Timeouts of every AWS call. The SDK's default transport waits for an
// answer forever: an endpoint (or proxy) that accepts a connection and
// never answers hung `points` for ten minutes and left `serve` jobs stuck
// behind a green health check. With these, such a call fails, without a
// retry, after at most DialTimeout + TLSHandshakeTimeout + the response
// timeout (35 s with the defaults; 20 s over plain HTTP), with a
// NoAnswerError naming the host.
const (
	DialTimeout         = 5 * time.Second
	TLSHandshakeTimeout = 10 * time.Second
	// DefaultResponseTimeout bounds the wait for response headers, and any
	// silence while a body arrives. AWS APIs answer within seconds; S3's
	// long copies send whitespace while they work.
	DefaultResponseTimeout = 20 * time.Second
)

func boundedClient(resp time.Duration) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = DialTimeout }).
		WithTransportOptions(func(t *http.Transport) {
			t.TLSHandshakeTimeout = TLSHandshakeTimeout
			t.ResponseHeaderTimeout = resp
		}).
		WithReadTimeout(resp)
}

// NoAnswerError is a call whose endpoint accepted the request but sent no
// answer within the response timeout.
type NoAnswerError struct {
	Host    string
	Timeout time.Duration
	Err     error
}

func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("%s accepted the request but did not answer within %s (endpoint or proxy hung?): %v", e.Host, e.Timeout, e.Err)
}

func (e *NoAnswerError) Unwrap() error { return e.Err }

// noAnswer runs once per attempt (after the retryer) and names a silent
// endpoint's error for what it is.
type noAnswer struct{ timeout time.Duration }

func (noAnswer) ID() string { return "pilotlight/NoAnswer" }

func (m noAnswer) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleFinalize(ctx, in)
	if err != nil && ctx.Err() == nil && silent(err) {
		host := "the AWS endpoint"
		if req, ok := in.Request.(*smithyhttp.Request); ok && req.URL != nil {
			host = req.URL.Host
		}
		err = &NoAnswerError{Host: host, Timeout: m.timeout, Err: err}
	}
	return out, md, err
}

// silent reports a response timeout: headers that never came, or a body
// that stopped.
func silent(err error) bool {
	var rt *awshttp.ResponseTimeoutError
	return errors.As(err, &rt) || strings.Contains(err.Error(), "timeout awaiting response headers")
}
