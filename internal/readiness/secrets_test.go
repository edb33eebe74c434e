package readiness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/pilotlight/pilotlight/internal/secrets"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// #21: status fails, naming it, while the DR region lacks a secret the
// app reads at boot, and passes once a cycle copied it; a rotation in the
// primary makes the copy stale until the next cycle.
func TestStatusNamesAMissingOrStaleSecret(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "pilotlight.yaml")
	if err := os.WriteFile(p, []byte(`stack: wordpress
primary: { region: cn-northwest-1 }
dr: { region: cn-north-1 }
protect:
  parameters:
    - { name: /wordpress/db-password }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := spec.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.AWS(t, testenv.Shared(t).NewAccount(t).URL)
	store, err := state.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	primary := ssm.NewFromConfig(env.For(cfg.Primary.Region))
	put := func(v string) {
		if _, err := primary.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/wordpress/db-password"), Value: aws.String(v),
			Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	secretCheck := func() Check {
		for _, c := range Evaluate(ctx, env, cfg, store, time.Now()).Checks {
			if c.Name == "secret current in DR" {
				return c
			}
		}
		t.Fatal("status has no secret check")
		return Check{}
	}
	put("first")
	if c := secretCheck(); c.Ready || c.Resource != "/wordpress/db-password" || !strings.Contains(c.Detail, "missing") {
		t.Fatalf("missing DR copy: %+v", c)
	}
	if _, err := secrets.Sync(ctx, env, cfg); err != nil {
		t.Fatal(err)
	}
	if c := secretCheck(); !c.Ready {
		t.Fatalf("after a cycle: %+v", c)
	}
	put("rotated")
	if c := secretCheck(); c.Ready || !strings.Contains(c.Detail, "version") {
		t.Fatalf("after a rotation in the primary: %+v", c)
	}
	if _, err := secrets.Sync(ctx, env, cfg); err != nil {
		t.Fatal(err)
	}
	got, err := ssm.NewFromConfig(env.For(cfg.DR.Region)).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/wordpress/db-password"), WithDecryption: aws.Bool(true)})
	if err != nil || aws.ToString(got.Parameter.Value) != "rotated" {
		t.Fatalf("the rotated password did not reach the DR region: %v %v", got, err)
	}
	if c := secretCheck(); !c.Ready {
		t.Fatalf("after the next cycle: %+v", c)
	}
}
