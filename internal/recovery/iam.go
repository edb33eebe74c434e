package recovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/secrets"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// iamAPI is the part of IAM the app's role calls. IAM's control plane may
// live in the primary region: only prepare, failback and teardown use it.
type iamAPI interface {
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	CreateRole(context.Context, *iam.CreateRoleInput, ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	GetInstanceProfile(context.Context, *iam.GetInstanceProfileInput, ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error)
	CreateInstanceProfile(context.Context, *iam.CreateInstanceProfileInput, ...func(*iam.Options)) (*iam.CreateInstanceProfileOutput, error)
	AddRoleToInstanceProfile(context.Context, *iam.AddRoleToInstanceProfileInput, ...func(*iam.Options)) (*iam.AddRoleToInstanceProfileOutput, error)
	RemoveRoleFromInstanceProfile(context.Context, *iam.RemoveRoleFromInstanceProfileInput, ...func(*iam.Options)) (*iam.RemoveRoleFromInstanceProfileOutput, error)
	DeleteInstanceProfile(context.Context, *iam.DeleteInstanceProfileInput, ...func(*iam.Options)) (*iam.DeleteInstanceProfileOutput, error)
	DeleteRolePolicy(context.Context, *iam.DeleteRolePolicyInput, ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
	DeleteRole(context.Context, *iam.DeleteRoleInput, ...func(*iam.Options)) (*iam.DeleteRoleOutput, error)
}

// ensureAppRole makes the app instances' role and instance profile ahead of
// time: IAM's control plane may live in the primary region (cn-north-1 in
// aws-cn, us-east-1 in aws), so failover must create no IAM.
func ensureAppRole(ctx context.Context, c iamAPI, cfg *spec.Config, ch *changes) (string, error) {
	p, err := partition.Of(cfg.DR.Region)
	if err != nil {
		return "", err
	}
	name := newNames(cfg, "").appRole()
	trust, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect": "Allow", "Action": "sts:AssumeRole",
			"Principal": map[string]any{"Service": p.ServicePrincipal("ec2")},
		}},
	})
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	var nf *iamtypes.NoSuchEntityException
	switch {
	case errors.As(err, &nf) && ch.would("create IAM role %s", name):
	case errors.As(err, &nf):
		if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{
			RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(string(trust)),
			Description: aws.String("pilotlight " + cfg.Stack + " DR app instances"), Tags: tags.IAM(prepTags(cfg, "app-role", name)),
		}); err != nil {
			return "", fmt.Errorf("create role %s: %w", name, err)
		}
		ch.add("created IAM role %s", name)
	case err != nil:
		return "", fmt.Errorf("get role %s: %w", name, err)
	}
	// PutRolePolicy replaces the inline policy: it is idempotent and a real
	// run does not report it, so a dry run skips it without a word.
	if !ch.dry {
		if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("media"), PolicyDocument: aws.String(appPolicy(cfg, p))}); err != nil {
			return "", fmt.Errorf("put policy on role %s: %w", name, err)
		}
	}
	prof, err := c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)})
	switch {
	case errors.As(err, &nf) && ch.would("create instance profile %s with role %s", name, name):
		return name, nil
	case errors.As(err, &nf):
		if _, err := c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(name)}); err != nil {
			return "", fmt.Errorf("create instance profile %s: %w", name, err)
		}
		ch.add("created instance profile %s", name)
	case err != nil:
		return "", fmt.Errorf("get instance profile %s: %w", name, err)
	default:
		for _, r := range prof.InstanceProfile.Roles {
			if aws.ToString(r.RoleName) == name {
				return name, nil
			}
		}
	}
	if ch.would("add role %s to instance profile %s", name, name) {
		return name, nil
	}
	if _, err := c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(name), RoleName: aws.String(name)}); err != nil {
		return "", fmt.Errorf("add role %s to its instance profile: %w", name, err)
	}
	return name, nil
}

// appPolicy lets the app mount the bucket of the region it runs in (s3fs:
// the replica after a failover, the source after a failback; one role
// serves both regions, IAM being global) and read its
// secrets from SSM Parameter Store under /<stack>/ (the DB password: never
// in the config or the user-data; the endpoints of the hand-off) and the
// parameters kept in the DR region by internal/secrets, nothing more.
func appPolicy(cfg *spec.Config, p partition.Partition) string {
	params := []string{p.ARN("ssm", "*", "*", "parameter/"+cfg.Stack+"/*")}
	var keyed bool
	for _, sp := range secrets.Parameters(cfg) {
		if !strings.HasPrefix(sp.Name, "/"+cfg.Stack+"/") {
			params = append(params, p.ARN("ssm", "*", "*", "parameter/"+strings.TrimPrefix(sp.Name, "/")))
		}
		keyed = keyed || sp.DRKMSKey != ""
	}
	statements := []map[string]any{{
		"Effect": "Allow", "Action": []string{"ssm:GetParameter", "ssm:GetParameters"},
		"Resource": params,
	}}
	if keyed {
		// A secret's DR copy encrypted with a customer key: decrypted
		// through SSM in the DR region only.
		statements = append(statements, map[string]any{
			"Effect": "Allow", "Action": []string{"kms:Decrypt"},
			"Resource":  []string{p.ARN("kms", cfg.DR.Region, "*", "key/*")},
			"Condition": map[string]any{"StringEquals": map[string]any{"kms:ViaService": "ssm." + cfg.DR.Region + "." + p.DNSSuffix}},
		})
	}
	var buckets, objects []string
	for _, b := range cfg.Protect.Buckets {
		// Sorted, so that the failback's swapped config writes the same
		// document and a second prepare changes nothing.
		for _, name := range slices.Sorted(slices.Values([]string{b.Source, b.Replica})) {
			buckets = append(buckets, p.ARN("s3", "", "", name))
			objects = append(objects, p.ARN("s3", "", "", name+"/*"))
		}
	}
	if len(buckets) > 0 {
		statements = append(statements,
			map[string]any{"Effect": "Allow", "Action": []string{"s3:ListBucket", "s3:GetBucketLocation"}, "Resource": buckets},
			map[string]any{"Effect": "Allow", "Action": []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, "Resource": objects})
	}
	doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": statements})
	return string(doc)
}

// deleteAppRole deletes the app's role and instance profile, if pilotlight
// made them for this stack.
func deleteAppRole(ctx context.Context, c iamAPI, cfg *spec.Config) error {
	name := newNames(cfg, "").appRole()
	role, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	var nf *iamtypes.NoSuchEntityException
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get role %s: %w", name, err)
	}
	if !tags.Managed(tags.FromIAM(role.Role.Tags), cfg.Stack) {
		return nil
	}
	if _, err := c.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String(name), RoleName: aws.String(name)}); err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("remove role %s from its profile: %w", name, err)
	}
	if _, err := c.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String(name)}); err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete instance profile %s: %w", name, err)
	}
	if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("media")}); err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete policy of role %s: %w", name, err)
	}
	if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(name)}); err != nil {
		return fmt.Errorf("delete role %s: %w", name, err)
	}
	return nil
}
