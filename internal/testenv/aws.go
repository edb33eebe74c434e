package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pilotlight/pilotlight/internal/awsenv"
)

// AWS returns an awsenv.Env whose calls go to endpoint with static test
// credentials and few retries, so that an unimplemented moto action (HTTP
// 500) fails fast instead of backing off.
func AWS(t testing.TB, endpoint string) *awsenv.Env {
	t.Helper()
	env, err := awsenv.Load(context.Background(), *Options(endpoint))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// Options are the AWS settings of AWS, for a CLI App's EnvOptions.
func Options(endpoint string) *awsenv.Options {
	return &awsenv.Options{
		Endpoint:      endpoint,
		Credentials:   credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", ""),
		MaxAttempts:   3,
		MaxBackoff:    50 * time.Millisecond,
		StandardRetry: true,
	}
}

// ChildEnv is the environment for running the pilotlight binary as a child
// process against endpoint.
func ChildEnv(endpoint string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY=secret",
		"AWS_MAX_ATTEMPTS=3",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}
