package awsenv

import (
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3 builds an S3 client for region. It is the one place that knows how
// S3 is addressed here: an overridden endpoint (an emulator) needs
// path-style requests, and answers without a body checksum (HEAD, copy)
// must not log a notice at every call. conns, when above the SDK's 10,
// sizes the idle-connection pool so that many workers reuse connections
// instead of opening and closing one per request.
func (e *Env) S3(region string, conns int) *s3.Client {
	return s3.NewFromConfig(e.For(region), func(o *s3.Options) {
		o.UsePathStyle = e.EndpointOverridden()
		o.DisableLogOutputChecksumValidationSkipped = true
		if bc, ok := o.HTTPClient.(*awshttp.BuildableClient); ok && conns > 10 {
			o.HTTPClient = bc.WithTransportOptions(func(t *http.Transport) {
				t.MaxIdleConnsPerHost = conns
				if t.MaxIdleConns < 2*conns {
					t.MaxIdleConns = 2 * conns
				}
			})
		}
	})
}
