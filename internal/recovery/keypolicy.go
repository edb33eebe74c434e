package recovery

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// An AMI copied with a customer managed DR key launches from the auto
// scaling group only if the key policy lets the Auto Scaling
// service-linked role use the key: "Amazon EC2 Auto Scaling service-linked
// roles ... do not include access to your customer managed keys" (EC2 Auto
// Scaling user guide, "Required AWS KMS key policy for use with encrypted
// volumes"). Without it every DR launch fails with Client.InternalError.

// keyPolicyAPI is the part of KMS the key check calls.
type keyPolicyAPI interface {
	DescribeKey(context.Context, *kms.DescribeKeyInput, ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	GetKeyPolicy(context.Context, *kms.GetKeyPolicyInput, ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error)
	PutKeyPolicy(context.Context, *kms.PutKeyPolicyInput, ...func(*kms.Options)) (*kms.PutKeyPolicyOutput, error)
}

// The two statements of that page, with the role's ARN filled in.
const (
	sidUseKey       = "Allow service-linked role use of the customer managed key"
	sidAttachGrants = "Allow attachment of persistent resources"
)

var useKeyActions = []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"}

func asgRoleARN(part, account string) string {
	return "arn:" + part + ":iam::" + account + ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
}

func asgKeyStatements(role string) []map[string]any {
	return []map[string]any{
		{"Sid": sidUseKey, "Effect": "Allow", "Principal": map[string]any{"AWS": role},
			"Action": useKeyActions, "Resource": "*"},
		{"Sid": sidAttachGrants, "Effect": "Allow", "Principal": map[string]any{"AWS": role},
			"Action": []string{"kms:CreateGrant"}, "Resource": "*",
			"Condition": map[string]any{"Bool": map[string]any{"kms:GrantIsForAWSResource": true}}},
	}
}

// appKey is the DR key the recovered app's AMI is copied with, or "".
func appKey(cfg *spec.Config) string {
	a := cfg.Recover.App
	if a == nil {
		return ""
	}
	im, ok := cfg.Image(a.ImageFrom)
	if !ok {
		return ""
	}
	return im.DRKMSKey
}

// KeyGrants says what the DR key's policy lacks for the Auto Scaling
// service-linked role: each missing statement as the JSON to add. None
// when no customer managed DR key is configured for the app's image.
type KeyGrants struct {
	Key     string   `json:"key,omitempty"`
	Role    string   `json:"role,omitempty"`
	Missing []string `json:"missing,omitempty"`
}

// MissingKeyGrants reads the DR key policy (GetKeyPolicy) and lists the
// statements AWS documents that it lacks; `status` and `validate` print them.
func MissingKeyGrants(ctx context.Context, env *awsenv.Env, cfg *spec.Config) (KeyGrants, error) {
	kc := kms.NewFromConfig(env.For(cfg.DR.Region))
	g, _, err := keyGrants(ctx, kc, env, cfg)
	return g, err
}

func keyGrants(ctx context.Context, kc keyPolicyAPI, env *awsenv.Env, cfg *spec.Config) (KeyGrants, map[string]any, error) {
	key := appKey(cfg)
	if key == "" {
		return KeyGrants{}, nil, nil
	}
	region := cfg.DR.Region
	d, err := kc.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key)})
	if err != nil {
		return KeyGrants{}, nil, fmt.Errorf("DR KMS key %s: %s: %w", key, region, err)
	}
	md := d.KeyMetadata
	if md == nil || md.KeyManager == kmstypes.KeyManagerTypeAws {
		// An AWS managed key (alias/aws/ebs) is usable by the role as is.
		return KeyGrants{}, nil, nil
	}
	acct, err := env.Account(ctx, region)
	if err != nil {
		return KeyGrants{}, nil, err
	}
	p, err := partition.Of(region)
	if err != nil {
		return KeyGrants{}, nil, err
	}
	g := KeyGrants{Key: aws.ToString(md.Arn), Role: asgRoleARN(p.ID, acct)}
	out, err := kc.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: md.KeyId, PolicyName: aws.String("default")})
	if err != nil {
		return g, nil, fmt.Errorf("get key policy of %s: %s: %w", g.Key, region, err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(out.Policy)), &doc); err != nil {
		return g, nil, fmt.Errorf("key policy of %s: %s: %w", g.Key, region, err)
	}
	allowed := allowedFor(doc, g.Role)
	want := asgKeyStatements(g.Role)
	for i, actions := range [][]string{useKeyActions, {"kms:CreateGrant"}} {
		if !coversAll(allowed, actions) {
			b, _ := json.Marshal(want[i])
			g.Missing = append(g.Missing, string(b))
		}
	}
	return g, doc, nil
}

// ensureKeyGrants adds the missing statements to the DR key's policy.
func ensureKeyGrants(ctx context.Context, kc keyPolicyAPI, env *awsenv.Env, cfg *spec.Config, ch *changes) error {
	g, doc, err := keyGrants(ctx, kc, env, cfg)
	if err != nil || len(g.Missing) == 0 {
		return err
	}
	if ch.would("grant the Auto Scaling service-linked role use of DR KMS key %s (key policy), adding the statements %s", g.Key, strings.Join(g.Missing, ", ")) {
		return nil
	}
	stmts, _ := doc["Statement"].([]any)
	for _, m := range g.Missing {
		var s any
		_ = json.Unmarshal([]byte(m), &s)
		stmts = append(stmts, s)
	}
	doc["Statement"] = stmts
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if _, err := kc.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(g.Key), PolicyName: aws.String("default"), Policy: aws.String(string(b))}); err != nil {
		return fmt.Errorf("let %s use DR KMS key %s (add to its key policy: %s): %s: %w", g.Role, g.Key, strings.Join(g.Missing, ", "), cfg.DR.Region, err)
	}
	ch.add("granted the Auto Scaling service-linked role use of DR KMS key %s (key policy)", g.Key)
	return nil
}

// allowedFor collects the actions a policy's Allow statements give role.
func allowedFor(doc map[string]any, role string) []string {
	stmts, _ := doc["Statement"].([]any)
	if s, ok := doc["Statement"].(map[string]any); ok {
		stmts = []any{s}
	}
	var out []string
	for _, raw := range stmts {
		s, ok := raw.(map[string]any)
		if !ok || s["Effect"] != "Allow" || !principalNames(s["Principal"], role) {
			continue
		}
		out = append(out, strs(s["Action"])...)
	}
	return out
}

// principalNames reports whether a principal element names role (or everyone).
func principalNames(p any, role string) bool {
	if p == "*" {
		return true
	}
	m, ok := p.(map[string]any)
	if !ok {
		return false
	}
	return slices.Contains(strs(m["AWS"]), role) || slices.Contains(strs(m["AWS"]), "*")
}

func strs(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// coversAll reports whether every action in want matches a pattern in
// allowed (IAM wildcards, case-insensitive).
func coversAll(allowed, want []string) bool {
	for _, w := range want {
		ok := false
		for _, a := range allowed {
			// A policy's wildcard covers want's; want's own wildcard
			// (kms:ReEncrypt*) must appear as such or wider.
			if m, _ := path.Match(strings.ToLower(a), strings.ToLower(w)); m || strings.EqualFold(a, w) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
