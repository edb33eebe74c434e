package iampolicy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/spec"
)

func exampleConfig(t *testing.T) *spec.Config {
	t.Helper()
	cfg, err := spec.Load("../../examples/wordpress/pilotlight.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestDocumentShapeAndChinaPartition(t *testing.T) {
	cfg := exampleConfig(t)
	doc, err := For(cfg, "123456789012", Verbs()...)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// It parses back as a generic IAM policy document.
	var generic struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal(data, &generic); err != nil || generic.Version != "2012-10-17" || len(generic.Statement) == 0 {
		t.Fatalf("not a policy document: %v\n%s", err, data)
	}
	sids := map[string]bool{}
	for _, s := range doc.Statement {
		if (s.Effect != "Allow" && s.Effect != "Deny") || len(s.Action) == 0 || len(s.Resource) == 0 {
			t.Errorf("statement %s incomplete", s.Sid)
		}
		if sids[s.Sid] {
			t.Errorf("duplicate Sid %s", s.Sid)
		}
		sids[s.Sid] = true
		for _, r := range s.Resource {
			if r != "*" && !strings.HasPrefix(r, "arn:aws-cn:") {
				t.Errorf("%s: resource %s is not in aws-cn", s.Sid, r)
			}
		}
		for _, a := range s.Action {
			if a == "*" || strings.HasSuffix(a, ":*") {
				t.Errorf("%s: wildcard action %s", s.Sid, a)
			}
		}
		if s.Resource[0] == "*" && s.Condition == nil && !strings.Contains(s.Sid, "Route53") {
			t.Errorf("%s: Resource * without a region condition", s.Sid)
		}
	}
	if strings.Contains(string(data), ".amazonaws.com.cn\"") == false {
		t.Error("no China service principal or endpoint in the policy")
	}
	// In aws the same config gives aws ARNs.
	cfg.Primary.Region, cfg.DR.Region = "us-west-2", "us-east-1"
	doc, _ = For(cfg, "123456789012", All)
	if doc != nil {
		t.Fatal("All is not a verb for For; ParseVerbs expands it")
	}
	vs, _ := ParseVerbs("all")
	doc, err = For(cfg, "123456789012", vs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range doc.Statement {
		for _, r := range s.Resource {
			if r != "*" && !strings.HasPrefix(r, "arn:aws:") {
				t.Errorf("%s: %s", s.Sid, r)
			}
		}
	}
}

func TestScopedResources(t *testing.T) {
	cfg := exampleConfig(t)
	doc, err := For(cfg, "123456789012", Backup)
	if err != nil {
		t.Fatal(err)
	}
	// A snapshot pilotlight names for the stack is covered in both regions;
	// someone else's is not.
	var snaps []string
	for _, s := range doc.Statement {
		if s.Sid == "BackupRDSRetention" {
			snaps = s.Resource
		}
	}
	covered := func(arn string) bool {
		for _, r := range snaps {
			if Match(r, arn) {
				return true
			}
		}
		return false
	}
	for _, arn := range []string{
		"arn:aws-cn:rds:cn-northwest-1:123456789012:snapshot:wordpress-wordpress-db-20260301101700",
		"arn:aws-cn:rds:cn-north-1:123456789012:snapshot:wordpress-wordpress-db-20260301101700",
	} {
		if !covered(arn) {
			t.Errorf("%s not deletable", arn)
		}
	}
	for _, arn := range []string{
		"arn:aws-cn:rds:cn-northwest-1:123456789012:snapshot:rds:wordpress-db-2026-03-01-10-17",
		"arn:aws-cn:rds:cn-northwest-1:123456789012:snapshot:manual-before-upgrade",
		"arn:aws-cn:rds:cn-northwest-1:999999999999:snapshot:wordpress-x",
		"arn:aws-cn:rds:us-east-1:123456789012:snapshot:wordpress-x",
	} {
		if covered(arn) {
			t.Errorf("%s deletable", arn)
		}
	}
	// AMI retention needs the stack tag; CreateImage on instances needs the
	// selector's tag.
	for _, s := range doc.Statement {
		switch s.Sid {
		case "BackupAMIRetention":
			if s.Condition["StringEquals"]["aws:ResourceTag/pilotlight:stack"] != "wordpress" {
				t.Errorf("AMI retention not limited by tag: %v", s.Condition)
			}
		case "BackupAMIInstancesByTag":
			if s.Condition["StringEquals"]["aws:ResourceTag/Role"] != "wordpress" {
				t.Errorf("CreateImage not limited to the selected instances: %v", s.Condition)
			}
		}
	}
	// Backup grants nothing of the recovery plane or IAM.
	for _, a := range doc.Actions() {
		if strings.HasPrefix(a, "iam:") || strings.HasPrefix(a, "elasticloadbalancing:") || strings.HasPrefix(a, "route53:") ||
			strings.HasPrefix(a, "rds:Restore") || strings.HasPrefix(a, "s3:") {
			t.Errorf("backup grants %s", a)
		}
	}
}

func TestParseVerbs(t *testing.T) {
	vs, err := ParseVerbs("backup, replicate,backup")
	if err != nil || strings.Join(vs, ",") != "backup,replicate" {
		t.Fatal(vs, err)
	}
	if _, err := ParseVerbs("nuke"); err == nil {
		t.Fatal("unknown verb accepted")
	}
	if _, err := ParseVerbs(""); err == nil {
		t.Fatal("empty accepted")
	}
	if vs, _ := ParseVerbs("all"); len(vs) != len(Verbs()) {
		t.Fatal(vs)
	}
}

func TestRequiredAndMatch(t *testing.T) {
	cases := map[[2]string]string{
		{"S3", "ListObjectsV2"}:                         "s3:ListBucket",
		{"s3", "HeadObject"}:                            "s3:GetObject",
		{"RDS", "CopyDBSnapshot"}:                       "rds:CopyDBSnapshot",
		{"Elastic Load Balancing v2", "CreateListener"}: "elasticloadbalancing:CreateListener",
		{"monitoring", "PutMetricData"}:                 "cloudwatch:PutMetricData",
	}
	for in, want := range cases {
		if got := Required(in[0], in[1]); len(got) == 0 || got[0] != want {
			t.Errorf("%v: %v", in, got)
		}
	}
	if Required("STS", "GetCallerIdentity") != nil {
		t.Error("GetCallerIdentity needs no permission")
	}
	if !Match("kms:ReEncrypt*", "kms:ReEncryptFrom") || Match("kms:ReEncrypt*", "kms:Decrypt") || !Match("arn:*:x", "arn:a:b:x") {
		t.Error("Match")
	}
}

func TestSplitKeepsEveryStatementUnderTheLimit(t *testing.T) {
	vs, _ := ParseVerbs("all")
	doc, err := For(exampleConfig(t), "123456789012", vs...)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := Split(doc, ManagedPolicyLimit)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Size() > ManagedPolicyLimit && len(parts) < 2 {
		t.Fatalf("a %d-character policy in %d part", doc.Size(), len(parts))
	}
	var sids []string
	for _, p := range parts {
		if p.Size() > ManagedPolicyLimit {
			t.Errorf("part of %d characters", p.Size())
		}
		for _, s := range p.Statement {
			sids = append(sids, s.Sid)
		}
	}
	var want []string
	for _, s := range doc.Statement {
		want = append(want, s.Sid)
	}
	if strings.Join(sids, ",") != strings.Join(want, ",") {
		t.Fatalf("statements lost or reordered:\n%v\n%v", sids, want)
	}
}
