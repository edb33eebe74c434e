package secrets

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const (
	primary = "cn-northwest-1"
	dr      = "cn-north-1"
)

func config(params ...spec.Parameter) *spec.Config {
	return &spec.Config{
		Stack: "shop", Primary: spec.Region{Region: primary}, DR: spec.Region{Region: dr},
		Protect: spec.Protect{Parameters: params},
		Recover: spec.Recover{App: &spec.App{Vars: map[string]string{"db_password_parameter": "/shop/db-password"}}},
	}
}

func put(t *testing.T, env *awsenv.Env, region, name, value string) {
	t.Helper()
	if _, err := ssm.NewFromConfig(env.For(region)).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, env *awsenv.Env, region, name string) *ssmtypes.Parameter {
	t.Helper()
	out, err := ssm.NewFromConfig(env.For(region)).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatalf("get %s in %s: %v", name, region, err)
	}
	return out.Parameter
}

// TestRotationReachesTheDRRegion: the first Sync copies the password as a
// SecureString; after a rotation in the primary, Check reports the DR copy
// stale, and the next Sync brings the new value over.
func TestRotationReachesTheDRRegion(t *testing.T) {
	env := testenv.AWS(t, testenv.Shared(t).NewAccount(t).URL)
	ctx := context.Background()
	key, err := kms.NewFromConfig(env.For(dr)).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config(spec.Parameter{Name: "/shop/api-key", DRKMSKey: aws.ToString(key.KeyMetadata.KeyId)})
	put(t, env, primary, "/shop/db-password", "first")
	put(t, env, primary, "/shop/api-key", "k1")

	copied, err := Sync(ctx, env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(copied) != 2 || !copied[0].Changed || !copied[1].Changed {
		t.Fatalf("first sync: %+v", copied)
	}
	p := get(t, env, dr, "/shop/db-password")
	if aws.ToString(p.Value) != "first" || p.Type != ssmtypes.ParameterTypeSecureString {
		t.Fatalf("DR copy: %q %s", aws.ToString(p.Value), p.Type)
	}
	desc, err := ssm.NewFromConfig(env.For(dr)).DescribeParameters(ctx, &ssm.DescribeParametersInput{
		ParameterFilters: []ssmtypes.ParameterStringFilter{{Key: aws.String("Name"), Values: []string{"/shop/api-key"}}},
	})
	if err != nil || len(desc.Parameters) != 1 || !strings.Contains(aws.ToString(desc.Parameters[0].KeyId), aws.ToString(key.KeyMetadata.KeyId)) {
		t.Fatalf("api-key's DR copy is not encrypted with the DR key %s: %+v %v", aws.ToString(key.KeyMetadata.KeyId), desc, err)
	}
	if probs := Check(ctx, env, cfg); len(probs) != 0 {
		t.Fatalf("fresh copies reported: %v", probs)
	}
	again, err := Sync(ctx, env, cfg)
	if err != nil || again[0].Changed || again[1].Changed {
		t.Fatalf("a sync with nothing rotated wrote: %+v %v", again, err)
	}

	put(t, env, primary, "/shop/db-password", "rotated")
	probs := Check(ctx, env, cfg)
	if len(probs) != 1 || probs[0].Name != "/shop/db-password" || !strings.Contains(probs[0].Detail, "version 1") || !strings.Contains(probs[0].Detail, "version 2") {
		t.Fatalf("rotation not noticed: %v", probs)
	}
	if _, err := Sync(ctx, env, cfg); err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(get(t, env, dr, "/shop/db-password").Value); got != "rotated" {
		t.Fatalf("DR copy after the rotation holds %q", got)
	}
	if probs := Check(ctx, env, cfg); len(probs) != 0 {
		t.Fatalf("after the sync: %v", probs)
	}
}

// TestMissingCopyIsNamed: with no DR copy, both checks name the parameter,
// and CheckDR calls the DR region only (it works with the primary dead).
func TestMissingCopyIsNamed(t *testing.T) {
	acct := testenv.Shared(t).NewAccount(t)
	proxy, err := testenv.NewProxy(acct.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	env := testenv.AWS(t, proxy.URL)
	ctx := context.Background()
	cfg := config()
	put(t, env, primary, "/shop/db-password", "secret")
	probs := Check(ctx, env, cfg)
	if len(probs) != 1 || probs[0].Name != "/shop/db-password" || !strings.Contains(probs[0].String(), "missing") {
		t.Fatalf("Check: %v", probs)
	}
	proxy.KillRegion(primary)
	probs = CheckDR(ctx, env, cfg)
	if len(probs) != 1 || !strings.Contains(probs[0].String(), "/shop/db-password in cn-north-1: missing") {
		t.Fatalf("CheckDR: %v", probs)
	}
	put(t, env, dr, "/shop/db-password", "kept by hand")
	if probs := CheckDR(ctx, env, cfg); len(probs) != 0 {
		t.Fatalf("CheckDR with the copy in place: %v", probs)
	}
}

// TestSyncLeavesAnotherOwnersCopy: a DR parameter pilotlight did not write
// is not overwritten; Check judges it by date.
func TestSyncLeavesAnotherOwnersCopy(t *testing.T) {
	env := testenv.AWS(t, testenv.Shared(t).NewAccount(t).URL)
	ctx := context.Background()
	cfg := config()
	put(t, env, dr, "/shop/db-password", "theirs")
	put(t, env, primary, "/shop/db-password", "newer")
	if _, err := Sync(ctx, env, cfg); err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(get(t, env, dr, "/shop/db-password").Value); got != "theirs" {
		t.Fatalf("Sync overwrote a parameter it does not own: %q", got)
	}
	probs := Check(ctx, env, cfg)
	if len(probs) != 1 || !strings.Contains(probs[0].Detail, "kept outside pilotlight") {
		t.Fatalf("Check of an older copy kept by hand: %v", probs)
	}
}
