package recovery

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestPrepareLetsAutoScalingUseTheDRKey (real-AWS review finding 5): with a
// customer managed DR key for the app's AMI, the key policy must let the
// Auto Scaling service-linked role use it, or every DR launch fails. The
// check names the missing statements; prepare adds them, once.
func TestPrepareLetsAutoScalingUseTheDRKey(t *testing.T) {
	moto := testenv.Shared(t)
	for _, pair := range []struct{ primary, dr string }{{"cn-northwest-1", "cn-north-1"}, {"us-east-1", "us-west-2"}} {
		t.Run(pair.dr, func(t *testing.T) {
			t.Parallel()
			env := testenv.AWS(t, moto.NewAccount(t).URL)
			cfg := testConfig(t, pair.primary, pair.dr, spec.DNSUpsert)
			ctx := ctxTimeout(t)
			key, err := kms.NewFromConfig(env.For(cfg.DR.Region)).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("DR key")})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Protect.Images[0].DRKMSKey = aws.ToString(key.KeyMetadata.Arn)
			seedProduction(t, env, cfg)

			g, err := MissingKeyGrants(ctx, env, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Missing) != 2 || !strings.Contains(g.Role, "AWSServiceRoleForAutoScaling") || !strings.HasPrefix(g.Role, "arn:"+map[bool]string{true: "aws-cn", false: "aws"}[strings.HasPrefix(pair.dr, "cn-")]+":") ||
				!strings.Contains(g.Missing[0], "kms:Decrypt") || !strings.Contains(g.Missing[1], "kms:GrantIsForAWSResource") {
				t.Fatalf("missing grants of a fresh key: %+v", g)
			}
			dry, err := PrepareDryRun(ctx, cfg, env)
			if err != nil {
				t.Fatal(err)
			}
			if text := strings.Join(dry.Changes, "\n"); !strings.Contains(text, "would grant the Auto Scaling service-linked role") ||
				!strings.Contains(text, "kms:Decrypt") || !strings.Contains(text, "kms:GrantIsForAWSResource") {
				t.Fatalf("the dry run does not show the key-policy statements: %v", dry.Changes)
			}
			if g, err := MissingKeyGrants(ctx, env, cfg); err != nil || len(g.Missing) != 2 {
				t.Fatalf("the dry run changed the key policy: %+v %v", g, err)
			}
			res, err := Prepare(ctx, cfg, env)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(res.Changes, "\n"), "Auto Scaling service-linked role") {
				t.Fatalf("prepare did not grant the key: %v", res.Changes)
			}
			if g, err := MissingKeyGrants(ctx, env, cfg); err != nil || len(g.Missing) != 0 {
				t.Fatalf("after prepare still missing: %+v %v", g, err)
			}
			again, err := Prepare(ctx, cfg, env)
			if err != nil || len(again.Changes) != 0 {
				t.Fatalf("second prepare: %v %v", again.Changes, err)
			}
		})
	}
}

func TestKeyPolicyWildcards(t *testing.T) {
	role := asgRoleARN("aws", "123456789012")
	for _, c := range []struct {
		actions []string
		want    bool
	}{
		{[]string{"kms:*"}, true},
		{useKeyActions, true},
		{[]string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey*", "kms:DescribeKey"}, false},
		{[]string{"kms:Decrypt"}, false},
	} {
		doc := map[string]any{"Statement": []any{map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": role}, "Action": toAny(c.actions)}}}
		if got := coversAll(allowedFor(doc, role), useKeyActions); got != c.want {
			t.Errorf("%v covers the documented actions: %v, want %v", c.actions, got, c.want)
		}
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
