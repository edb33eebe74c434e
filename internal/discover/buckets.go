package discover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/tags"
)

// bucketName is S3's rule for bucket names pilotlight can replicate; the
// config validator applies the same one.
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// policyRef is an S3 resource pattern in one of the app role's policies.
type policyRef struct {
	pattern string // bucket name, possibly with IAM wildcards
	where   string
}

// buckets finds the S3 buckets the app uses: those its user-data names and
// those its instance role's policies grant, that this account owns in the
// primary region. With --tag, the tagged buckets of the region instead.
func (r *run) buckets(ctx context.Context) {
	var refs []policyRef
	for i := range r.d.Apps {
		a := &r.d.Apps[i]
		if a.InstanceProfile == "" {
			continue
		}
		role, got, err := r.rolePolicies(ctx, a.InstanceProfile)
		a.Role = role
		if err != nil {
			r.undecided("the policies of instance profile %s could not be read (%v): buckets named only there are missed", a.InstanceProfile, err)
		}
		refs = append(refs, got...)
	}
	out, err := r.c.S3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		r.undecided("the account's buckets could not be listed (%v): no bucket is included", err)
		return
	}
	reasons := map[string][]string{}
	var owned []string
	regions := map[string]string{}
	for _, b := range out.Buckets {
		name := aws.ToString(b.Name)
		owned = append(owned, name)
		if reg := aws.ToString(b.BucketRegion); reg != "" {
			regions[name] = reg
		}
		for _, a := range r.d.Apps {
			if a.UserData != "" && mentions(a.UserData, name) {
				reasons[name] = append(reasons[name], "named in the user-data of "+a.label())
			}
		}
		for _, ref := range refs {
			if ok, _ := path.Match(ref.pattern, name); ok {
				reasons[name] = append(reasons[name], "granted by "+ref.where)
			}
		}
	}
	sort.Strings(owned)
	var look []string
	if r.d.Scope.By == "tags" {
		look = owned
	} else {
		for _, n := range owned {
			if len(reasons[n]) > 0 {
				look = append(look, n)
			}
		}
	}
	r.bucketRegions(ctx, look, regions)
	var tagged map[string]bool
	if r.d.Scope.By == "tags" {
		var inRegion []string
		for _, n := range owned {
			if regions[n] == r.c.Region {
				inRegion = append(inRegion, n)
			}
		}
		tagged = r.taggedBuckets(ctx, inRegion)
	}
	for _, n := range look {
		why := reasons[n]
		switch {
		case regions[n] == "":
			if len(why) > 0 {
				r.undecided("bucket %s (%s): its region could not be read: not included", n, strings.Join(why, "; "))
			}
			continue
		case regions[n] != r.c.Region:
			if len(why) > 0 {
				r.undecided("bucket %s (%s) is in %s, not the primary region: not included", n, strings.Join(why, "; "), regions[n])
			}
			continue
		case tagged != nil && !tagged[n]:
			if len(why) > 0 {
				r.undecided("bucket %s (%s) does not carry the tags %s: not included", n, strings.Join(why, "; "), tagText(r.opts.Tags))
			}
			continue
		case !bucketName.MatchString(n) || strings.Contains(n, ".."):
			r.undecided("bucket %s has a legacy name that replication rules and the config do not accept: not included", n)
			continue
		}
		found := strings.Join(why, "; ")
		if tagged != nil {
			found = "carries the tags " + tagText(r.opts.Tags)
			if len(why) > 0 {
				found += "; " + strings.Join(why, "; ")
			}
		}
		r.d.Buckets = append(r.d.Buckets, Bucket{Name: n, Found: found})
	}
}

// bucketRegions fills the region of each named bucket that ListBuckets
// did not give, a few at a time.
func (r *run) bucketRegions(ctx context.Context, names []string, regions map[string]string) {
	var mu sync.Mutex
	r.each(names, func(n string) {
		// The map is written by the other lookups as they answer: read it
		// under the same lock (the race detector caught the bare read).
		mu.Lock()
		_, known := regions[n]
		mu.Unlock()
		if known {
			return
		}
		out, err := r.c.S3.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(n)})
		if err != nil {
			r.log.Debug("bucket location not read", "bucket", n, "err", err)
			return
		}
		reg := string(out.LocationConstraint)
		switch reg {
		case "":
			reg = "us-east-1" // S3 reports the oldest region as no constraint
		case "EU":
			reg = "eu-west-1"
		}
		mu.Lock()
		regions[n] = reg
		mu.Unlock()
	})
}

func (r *run) taggedBuckets(ctx context.Context, names []string) map[string]bool {
	out := map[string]bool{}
	var mu sync.Mutex
	r.each(names, func(n string) {
		res, err := r.c.S3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(n)})
		if err != nil {
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchTagSet" {
				r.log.Debug("bucket tags not read", "bucket", n, "err", err)
			}
			return
		}
		if matches(tags.FromS3(res.TagSet), r.opts.Tags) {
			mu.Lock()
			out[n] = true
			mu.Unlock()
		}
	})
	return out
}

// each runs f over names with bounded concurrency: one call per bucket is
// what S3 offers, and accounts hold hundreds of buckets.
func (r *run) each(names []string, f func(string)) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(n)
		}()
	}
	wg.Wait()
}

// mentions reports whether text names the bucket as a word of its own: not
// inside a longer bucket name, but allowing a virtual-hosted URL
// (name.s3.region.amazonaws.com).
func mentions(text, bucket string) bool {
	isName := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	for i := 0; ; {
		j := strings.Index(text[i:], bucket)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(bucket)
		before := start == 0 || !isName(text[start-1])
		after := end == len(text) || !isName(text[end]) ||
			(text[end] == '.' && (strings.HasPrefix(text[end:], ".s3.") || strings.HasPrefix(text[end:], ".s3-")))
		if before && after {
			return true
		}
		i = start + 1
	}
}

// rolePolicies reads the role of an instance profile and the S3 resources
// its inline and customer-managed policies allow. AWS-managed policies
// never name a bucket of yours, so they are not read.
func (r *run) rolePolicies(ctx context.Context, profile string) (string, []policyRef, error) {
	out, err := r.c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(profile)})
	if err != nil {
		return "", nil, err
	}
	if len(out.InstanceProfile.Roles) == 0 {
		return "", nil, nil
	}
	role := aws.ToString(out.InstanceProfile.Roles[0].RoleName)
	var refs []policyRef
	add := func(doc, where string) {
		pats, all := s3Patterns(doc)
		if all {
			r.undecided("%s allows every S3 bucket: that names none, so only the user-data hints at the app's buckets", where)
		}
		for _, p := range pats {
			refs = append(refs, policyRef{pattern: p, where: where})
		}
	}
	ip := iam.NewListRolePoliciesPaginator(r.c.IAM, &iam.ListRolePoliciesInput{RoleName: aws.String(role)})
	for ip.HasMorePages() {
		page, err := ip.NextPage(ctx)
		if err != nil {
			return role, refs, err
		}
		for _, name := range page.PolicyNames {
			pol, err := r.c.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
			if err != nil {
				return role, refs, err
			}
			add(aws.ToString(pol.PolicyDocument), fmt.Sprintf("inline policy %s of role %s", name, role))
		}
	}
	ap := iam.NewListAttachedRolePoliciesPaginator(r.c.IAM, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			return role, refs, err
		}
		for _, p := range page.AttachedPolicies {
			arn := aws.ToString(p.PolicyArn)
			if strings.Contains(arn, ":iam::aws:policy/") {
				continue
			}
			pol, err := r.c.IAM.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
			if err != nil {
				return role, refs, err
			}
			v, err := r.c.IAM.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: pol.Policy.DefaultVersionId})
			if err != nil {
				return role, refs, err
			}
			if v.PolicyVersion != nil {
				add(aws.ToString(v.PolicyVersion.Document), fmt.Sprintf("policy %s attached to role %s", aws.ToString(p.PolicyName), role))
			}
		}
	}
	return role, refs, nil
}

// s3Patterns returns the bucket-name patterns of the S3 resources an IAM
// policy document allows; all is true when it allows every bucket.
func s3Patterns(doc string) (patterns []string, all bool) {
	doc = strings.TrimSpace(doc)
	if !strings.HasPrefix(doc, "{") {
		// IAM returns documents URL-encoded.
		if u, err := url.QueryUnescape(doc); err == nil {
			doc = u
		}
	}
	var p struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &p) != nil {
		return nil, false
	}
	type statement struct {
		Effect   string
		Action   json.RawMessage
		Resource json.RawMessage
	}
	var stmts []statement
	if json.Unmarshal(p.Statement, &stmts) != nil {
		var one statement
		if json.Unmarshal(p.Statement, &one) != nil {
			return nil, false
		}
		stmts = []statement{one}
	}
	seen := map[string]bool{}
	for _, s := range stmts {
		if s.Effect != "Allow" || !touchesS3(stringsOf(s.Action)) {
			continue
		}
		for _, res := range stringsOf(s.Resource) {
			if res == "*" {
				all = true
				continue
			}
			part, service, _, _, rest, ok := splitARN(res)
			if !ok || service != "s3" || !strings.HasPrefix(part, "aws") {
				continue
			}
			bucket := strings.SplitN(rest, "/", 2)[0]
			if bucket == "" || strings.Trim(bucket, "*?") == "" {
				all = true
				continue
			}
			if !seen[bucket] {
				seen[bucket] = true
				patterns = append(patterns, bucket)
			}
		}
	}
	return patterns, all
}

func touchesS3(actions []string) bool {
	for _, a := range actions {
		if a == "*" || strings.HasPrefix(strings.ToLower(a), "s3:") {
			return true
		}
	}
	return false
}

// stringsOf reads a policy element that is a string or a list of strings.
func stringsOf(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(raw, &many)
	return many
}

// splitARN splits arn:partition:service:region:account:resource.
func splitARN(s string) (part, service, region, account, resource string, ok bool) {
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 || f[0] != "arn" {
		return "", "", "", "", "", false
	}
	return f[1], f[2], f[3], f[4], f[5], true
}
