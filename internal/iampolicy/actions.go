package iampolicy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Prefix maps a service's name as the SDK, its package path or SigV4
// signing spells it to its IAM action prefix ("Elastic Load Balancing v2",
// elasticloadbalancingv2 and elasticloadbalancing all give
// elasticloadbalancing; monitoring gives cloudwatch).
func Prefix(service string) string {
	s := strings.ToLower(strings.ReplaceAll(service, " ", ""))
	switch s {
	case "elasticloadbalancingv2", "elasticloadbalancing":
		return "elasticloadbalancing"
	case "monitoring", "cloudwatch":
		return "cloudwatch"
	case "route53":
		return "route53"
	case "autoscaling":
		return "autoscaling"
	}
	return s
}

// s3Actions maps S3 API operations whose IAM action has another name.
var s3Actions = map[string][]string{
	"ListObjectsV2":           {"s3:ListBucket"},
	"ListObjects":             {"s3:ListBucket"},
	"HeadBucket":              {"s3:ListBucket"},
	"HeadObject":              {"s3:GetObject"},
	"GetObject":               {"s3:GetObject"},
	"CopyObject":              {"s3:GetObject", "s3:PutObject"},
	"UploadPartCopy":          {"s3:GetObject", "s3:PutObject"},
	"CreateMultipartUpload":   {"s3:PutObject"},
	"UploadPart":              {"s3:PutObject"},
	"CompleteMultipartUpload": {"s3:PutObject"},
	"DeleteObjects":           {"s3:DeleteObject"},
	"GetBucketEncryption":     {"s3:GetEncryptionConfiguration"},
	"PutBucketEncryption":     {"s3:PutEncryptionConfiguration"},
	"GetBucketReplication":    {"s3:GetReplicationConfiguration"},
	"PutBucketReplication":    {"s3:PutReplicationConfiguration"},
	"DeleteBucketReplication": {"s3:PutReplicationConfiguration"},
	"ListObjectVersions":      {"s3:ListBucketVersions"},
	"ListBuckets":             {"s3:ListAllMyBuckets"},
	// S3 API reference, ListBucketInventoryConfigurations: "you must have
	// permissions to perform the s3:GetInventoryConfiguration action".
	"ListBucketInventoryConfigurations": {"s3:GetInventoryConfiguration"},
	"GetBucketInventoryConfiguration":   {"s3:GetInventoryConfiguration"},
}

// Required returns the IAM actions an API operation needs: usually
// prefix:Operation; S3 spells many differently; STS GetCallerIdentity needs
// none (it is always allowed).
func Required(service, operation string) []string {
	p := Prefix(service)
	switch {
	case p == "sts" && operation == "GetCallerIdentity":
		return nil
	case p == "s3control":
		// S3 Control's operations (Batch Operations jobs) are authorised
		// as s3: actions.
		return []string{"s3:" + operation}
	case p == "s3":
		if a, ok := s3Actions[operation]; ok {
			return a
		}
	}
	return []string{p + ":" + operation}
}

// Actions lists every action the document allows, sorted.
func (d *Document) Actions() []string {
	seen := map[string]bool{}
	for _, s := range d.Statement {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Action {
			seen[a] = true
		}
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Allows reports whether some Allow statement names action (wildcards in
// the document's actions, such as kms:ReEncrypt*, are honoured).
func (d *Document) Allows(action string) bool {
	for _, s := range d.Statement {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Action {
			if Match(a, action) {
				return true
			}
		}
	}
	return false
}

// Match reports whether pattern (with * and ?) matches s, case-insensitively
// as IAM compares actions.
func Match(pattern, s string) bool {
	return match(strings.ToLower(pattern), strings.ToLower(s))
}

func match(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if match(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if len(s) == 0 {
				return false
			}
		default:
			if len(s) == 0 || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return len(s) == 0
}

// ManagedPolicyLimit is IAM's size limit of a managed policy, in
// characters without whitespace.
const ManagedPolicyLimit = 6144

// Size is the document's length as IAM counts it: compact JSON.
func (d *Document) Size() int {
	data, _ := json.Marshal(d)
	return len(data)
}

// Split packs the document's statements into documents of at most limit
// characters each, in order; attached together to one principal they grant
// what d grants (IAM evaluates a principal's policies as one). A statement
// larger than limit alone is an error.
func Split(d *Document, limit int) ([]*Document, error) {
	var out []*Document
	cur := &Document{Version: d.Version}
	for _, s := range d.Statement {
		one := &Document{Version: d.Version, Statement: []Statement{s}}
		if one.Size() > limit {
			return nil, fmt.Errorf("statement %s alone is %d characters, over %d", s.Sid, one.Size(), limit)
		}
		next := &Document{Version: d.Version, Statement: append(append([]Statement{}, cur.Statement...), s)}
		if next.Size() > limit {
			out = append(out, cur)
			cur = one
			continue
		}
		cur = next
	}
	if len(cur.Statement) > 0 {
		out = append(out, cur)
	}
	return out, nil
}
