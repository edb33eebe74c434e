// Package secrets keeps the SSM parameters the app reads at boot (the
// database password) in the DR region, current: on a failover the
// primary's Parameter Store is gone with the primary. Sync copies each
// parameter from the primary to the DR region under the same name, a
// SecureString re-encrypted with a DR key, and notices a rotation by the
// source version it recorded on the copy. Check says what is missing or
// stale; CheckDR does so calling the DR region only, for a failover's
// pre-check.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// Tags a DR copy carries: which version of which source it holds.
const (
	TagSourceVersion  = "pilotlight:source-version"
	TagSourceModified = "pilotlight:source-modified"
	TagSourceRegion   = "pilotlight:source-region"
)

// ssmAPI is the part of SSM Sync and Check call, in either region.
type ssmAPI interface {
	GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	PutParameter(context.Context, *ssm.PutParameterInput, ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
	AddTagsToResource(context.Context, *ssm.AddTagsToResourceInput, ...func(*ssm.Options)) (*ssm.AddTagsToResourceOutput, error)
	ListTagsForResource(context.Context, *ssm.ListTagsForResourceInput, ...func(*ssm.Options)) (*ssm.ListTagsForResourceOutput, error)
}

// Parameters are the parameters cfg keeps in the DR region: those listed
// under protect.parameters and the app's db_password_parameter.
func Parameters(cfg *spec.Config) []spec.Parameter {
	out := slices.Clone(cfg.Protect.Parameters)
	if a := cfg.Recover.App; a != nil {
		if p := a.Vars["db_password_parameter"]; p != "" && !slices.ContainsFunc(out, func(x spec.Parameter) bool { return x.Name == p }) {
			out = append(out, spec.Parameter{Name: p})
		}
	}
	return out
}

// Copied is one parameter Sync looked at.
type Copied struct {
	Name    string
	Version int64 // the primary's version the DR copy now holds
	// Changed is true when Sync wrote the DR copy (new or rotated).
	Changed bool
}

// Problem is a parameter the DR region cannot serve as the primary would.
type Problem struct {
	Name   string
	Region string
	Detail string
}

func (p Problem) String() string {
	return fmt.Sprintf("SSM parameter %s in %s: %s", p.Name, p.Region, p.Detail)
}

// Sync copies every parameter of cfg whose DR copy is missing or older
// than the primary's. It never overwrites a DR parameter it did not write
// (someone else keeps it: Check judges it by date).
func Sync(ctx context.Context, env *awsenv.Env, cfg *spec.Config) ([]Copied, error) {
	return sync(ctx, ssm.NewFromConfig(env.For(cfg.Primary.Region)), ssm.NewFromConfig(env.For(cfg.DR.Region)), cfg)
}

func sync(ctx context.Context, primary, dr ssmAPI, cfg *spec.Config) ([]Copied, error) {
	var out []Copied
	var errs []error
	for _, p := range Parameters(cfg) {
		c, err := syncOne(ctx, primary, dr, cfg, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

func syncOne(ctx context.Context, primary, dr ssmAPI, cfg *spec.Config, p spec.Parameter) (Copied, error) {
	src, err := primary.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(p.Name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return Copied{}, fmt.Errorf("read SSM parameter %s: %s: %w", p.Name, cfg.Primary.Region, err)
	}
	sp := src.Parameter
	c := Copied{Name: p.Name, Version: sp.Version}
	cur, err := describe(ctx, dr, p.Name)
	if err != nil {
		return c, fmt.Errorf("SSM parameter %s: %s: %w", p.Name, cfg.DR.Region, err)
	}
	if cur != nil {
		if !tags.Managed(cur.tags, cfg.Stack) {
			return c, nil // kept by someone else; Check compares dates
		}
		if cur.tags[TagSourceVersion] == strconv.FormatInt(sp.Version, 10) {
			return c, nil
		}
	}
	in := &ssm.PutParameterInput{
		Name: aws.String(p.Name), Value: sp.Value, Type: sp.Type, Overwrite: aws.Bool(cur != nil),
		Description: aws.String(fmt.Sprintf("pilotlight: copy of %s in %s, kept for the DR app", p.Name, cfg.Primary.Region)),
	}
	if sp.Type == ssmtypes.ParameterTypeSecureString {
		in.KeyId = aws.String(orDefault(p.DRKMSKey, "alias/aws/ssm"))
	}
	if _, err := dr.PutParameter(ctx, in); err != nil {
		return c, fmt.Errorf("copy SSM parameter %s version %d to %s: %w", p.Name, sp.Version, cfg.DR.Region, err)
	}
	t := tags.With(tags.Base(cfg.Stack), TagSourceVersion, strconv.FormatInt(sp.Version, 10),
		TagSourceModified, aws.ToTime(sp.LastModifiedDate).UTC().Format(time.RFC3339), TagSourceRegion, cfg.Primary.Region)
	var st []ssmtypes.Tag
	for _, k := range slices.Sorted(maps.Keys(t)) {
		st = append(st, ssmtypes.Tag{Key: aws.String(k), Value: aws.String(t[k])})
	}
	// After the value: a crash in between leaves an older version tag, and
	// the next Sync copies again.
	if _, err := dr.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(p.Name), Tags: st}); err != nil {
		return c, fmt.Errorf("tag SSM parameter %s: %s: %w", p.Name, cfg.DR.Region, err)
	}
	c.Changed = true
	return c, nil
}

// drCopy is what the DR region holds of a parameter.
type drCopy struct {
	version  int64
	modified time.Time
	tags     map[string]string
}

func describe(ctx context.Context, c ssmAPI, name string) (*drCopy, error) {
	out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	var nf *ssmtypes.ParameterNotFound
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	tl, err := c.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	m := map[string]string{}
	for _, t := range tl.TagList {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return &drCopy{version: out.Parameter.Version, modified: aws.ToTime(out.Parameter.LastModifiedDate), tags: m}, nil
}

// CheckDR reports the parameters missing in the DR region, calling only
// the DR region: what a failover must refuse to start without.
func CheckDR(ctx context.Context, env *awsenv.Env, cfg *spec.Config) []Problem {
	return checkDR(ctx, ssm.NewFromConfig(env.For(cfg.DR.Region)), cfg)
}

func checkDR(ctx context.Context, dr ssmAPI, cfg *spec.Config) []Problem {
	var out []Problem
	for _, p := range Parameters(cfg) {
		c, err := describe(ctx, dr, p.Name)
		switch {
		case err != nil:
			out = append(out, Problem{p.Name, cfg.DR.Region, err.Error()})
		case c == nil:
			out = append(out, Problem{p.Name, cfg.DR.Region, "missing: the app cannot read it at boot (run a backup cycle, which copies it)"})
		}
	}
	return out
}

// Check reports the parameters missing in the DR region or older there
// than in the primary (a rotation not copied yet), for status.
func Check(ctx context.Context, env *awsenv.Env, cfg *spec.Config) []Problem {
	return check(ctx, ssm.NewFromConfig(env.For(cfg.Primary.Region)), ssm.NewFromConfig(env.For(cfg.DR.Region)), cfg)
}

func check(ctx context.Context, primary, dr ssmAPI, cfg *spec.Config) []Problem {
	var out []Problem
	for _, p := range Parameters(cfg) {
		c, err := describe(ctx, dr, p.Name)
		switch {
		case err != nil:
			out = append(out, Problem{p.Name, cfg.DR.Region, err.Error()})
			continue
		case c == nil:
			out = append(out, Problem{p.Name, cfg.DR.Region, "missing: the app cannot read it at boot (run a backup cycle, which copies it)"})
			continue
		}
		src, err := primary.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(p.Name)})
		if err != nil {
			out = append(out, Problem{p.Name, cfg.Primary.Region, "cannot read the source to compare: " + err.Error()})
			continue
		}
		sp := src.Parameter
		if v, ok := c.tags[TagSourceVersion]; ok && tags.Managed(c.tags, cfg.Stack) {
			if v != strconv.FormatInt(sp.Version, 10) {
				out = append(out, Problem{p.Name, cfg.DR.Region, fmt.Sprintf("holds version %s of the primary's, which is at version %d (rotated %s): run a backup cycle", v, sp.Version, aws.ToTime(sp.LastModifiedDate).UTC().Format(time.RFC3339))})
			}
			continue
		}
		// Not pilotlight's copy: only dates can tell.
		if c.modified.Before(aws.ToTime(sp.LastModifiedDate)) {
			out = append(out, Problem{p.Name, cfg.DR.Region, fmt.Sprintf("last written %s, before the primary's change of %s (kept outside pilotlight)", c.modified.UTC().Format(time.RFC3339), aws.ToTime(sp.LastModifiedDate).UTC().Format(time.RFC3339))})
		}
	}
	return out
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
