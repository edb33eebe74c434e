package operation

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestFailoverRefusesWithoutDRSecrets: the password the app reads at boot
// exists only in the (dead) primary region, so failover and drill refuse
// to start, naming it, before touching anything; with the DR copy in
// place the pre-check passes.
func TestFailoverRefusesWithoutDRSecrets(t *testing.T) {
	acct := testenv.Shared(t).NewAccount(t)
	proxy, err := testenv.NewProxy(acct.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	env := testenv.AWS(t, proxy.URL)
	ctx := context.Background()
	cfg := &spec.Config{
		Stack: "shop", Primary: spec.Region{Region: "us-east-1"}, DR: spec.Region{Region: "us-west-2"},
		Recover: spec.Recover{App: &spec.App{Vars: map[string]string{"db_password_parameter": "/shop/db-password"}}},
	}
	if _, err := ssm.NewFromConfig(env.For("us-east-1")).PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String("/shop/db-password"), Value: aws.String("s3cret"), Type: ssmtypes.ParameterTypeSecureString,
	}); err != nil {
		t.Fatal(err)
	}
	proxy.KillRegion("us-east-1")
	proxy.ResetCalls()
	_, err = Recover(ctx, Deps{}, cfg, env, KindFailover, RecoverOptions{})
	if err == nil || !strings.Contains(err.Error(), "refusing to start") || !strings.Contains(err.Error(), "/shop/db-password in us-west-2: missing") {
		t.Fatalf("failover without the DR copy: %v", err)
	}
	if _, err := Drill(ctx, Deps{}, cfg, env, DrillOptions{}); err == nil || !strings.Contains(err.Error(), "/shop/db-password") {
		t.Fatalf("drill without the DR copy: %v", err)
	}
	for _, c := range proxy.Calls() {
		if c.Region != "us-west-2" || c.Service != "ssm" || (c.Action != "GetParameter" && c.Action != "ListTagsForResource") {
			t.Fatalf("the refused failover called %+v", c)
		}
	}
	if _, err := ssm.NewFromConfig(env.For("us-west-2")).PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String("/shop/db-password"), Value: aws.String("s3cret"), Type: ssmtypes.ParameterTypeSecureString,
	}); err != nil {
		t.Fatal(err)
	}
	if err := recoverPreCheck(ctx, cfg, env); err != nil {
		t.Fatalf("with the DR copy: %v", err)
	}
}
