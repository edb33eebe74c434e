package iampolicy

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// This file holds a small IAM policy evaluator, enough for the documents
// this package writes: Allow and Deny, wildcards in actions and ARNs, and
// the condition operators the policies use. Like IAM, it allows a call
// when, for each resource the call names, some Allow statement matches and
// no Deny does; a request key a condition needs but the call lacks fails
// the positive operators and passes the negated ones.

// res is one resource a call is authorised against, with its tags.
type res struct {
	arn  string
	tags map[string]string
}

// call is one authorisation request: an action, its resources, and the
// request's context keys (aws:RequestTag/…, iam:PassedToService, …).
type call struct {
	why    string
	action string
	res    []res
	ctx    map[string][]string
}

func (c call) String() string {
	var arns []string
	for _, r := range c.res {
		arns = append(arns, r.arn)
	}
	return fmt.Sprintf("%s (%s) on %s %v", c.action, c.why, strings.Join(arns, ", "), c.ctx)
}

// evaluate reports whether doc allows c, and if not, why.
func evaluate(t *testing.T, doc *Document, c call) (bool, string) {
	t.Helper()
	for _, r := range c.res {
		keys := map[string][]string{}
		for k, v := range c.ctx {
			keys[k] = v
		}
		for k, v := range r.tags {
			keys["aws:ResourceTag/"+k] = []string{v}
		}
		allowed := false
		for _, s := range doc.Statement {
			if !anyMatch(s.Action, c.action, false) || !anyMatch(s.Resource, r.arn, true) || !conditions(t, s.Condition, keys) {
				continue
			}
			if s.Effect == "Deny" {
				return false, "denied by " + s.Sid + " on " + r.arn
			}
			allowed = true
		}
		if !allowed {
			return false, "no statement allows " + r.arn
		}
	}
	return true, ""
}

// anyMatch matches actions case-insensitively, ARNs case-sensitively, as
// IAM does.
func anyMatch(patterns []string, s string, caseSensitive bool) bool {
	for _, p := range patterns {
		if caseSensitive && match(p, s) || !caseSensitive && Match(p, s) {
			return true
		}
	}
	return false
}

func conditions(t *testing.T, cond map[string]map[string]any, keys map[string][]string) bool {
	t.Helper()
	for op, kv := range cond {
		for key, raw := range kv {
			want := values(raw)
			got, present := keys[key]
			ok := false
			switch op {
			case "StringEquals", "StringLike", "ArnLike", "Bool":
				like := op == "StringLike" || op == "ArnLike"
				ok = present && anyOf(got, want, like)
			case "StringNotEquals":
				ok = !present || !anyOf(got, want, false)
			case "Null":
				ok = (want[0] == "true") == !present
			case "ForAllValues:StringEquals":
				ok = true
				for _, g := range got {
					ok = ok && anyOf([]string{g}, want, false)
				}
			case "ForAnyValue:StringEquals":
				ok = anyOf(got, want, false)
			default:
				t.Fatalf("the evaluator does not know condition operator %s: teach it", op)
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

func values(raw any) []string {
	switch v := raw.(type) {
	case string:
		return []string{v}
	case bool:
		return []string{fmt.Sprint(v)}
	case []string:
		return v
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return []string{fmt.Sprint(raw)}
}

func anyOf(got, want []string, like bool) bool {
	for _, g := range got {
		for _, w := range want {
			if g == w || like && match(w, g) {
				return true
			}
		}
	}
	return false
}

func TestEvaluator(t *testing.T) {
	doc := &Document{Statement: []Statement{
		{Sid: "A", Effect: "Allow", Action: []string{"ec2:Create*"}, Resource: []string{"arn:aws:ec2:r:1:vpc/*"},
			Condition: map[string]map[string]any{"StringEquals": {"aws:RequestTag/k": "v"}}},
		{Sid: "D", Effect: "Deny", Action: []string{"ec2:CreateTags"}, Resource: []string{"*"},
			Condition: map[string]map[string]any{"StringNotEquals": {"aws:ResourceTag/k": "v"}, "Null": {"aws:ResourceTag/k": false}}},
	}}
	ok := func(c call) bool { a, _ := evaluate(t, doc, c); return a }
	vpc := res{arn: "arn:aws:ec2:r:1:vpc/*"}
	if !ok(call{action: "ec2:CreateVpc", res: []res{vpc}, ctx: map[string][]string{"aws:RequestTag/k": {"v"}}}) {
		t.Error("wildcard action with its condition met is denied")
	}
	if ok(call{action: "ec2:CreateVpc", res: []res{vpc}}) {
		t.Error("missing request tag allowed")
	}
	if ok(call{action: "ec2:CreateVpc", res: []res{vpc, {arn: "arn:aws:ec2:r:1:subnet/x"}}, ctx: map[string][]string{"aws:RequestTag/k": {"v"}}}) {
		t.Error("a resource no statement names is allowed")
	}
	if ok(call{action: "ec2:CreateTags", res: []res{{arn: "arn:aws:ec2:r:1:vpc/*", tags: map[string]string{"k": "other"}}}, ctx: map[string][]string{"aws:RequestTag/k": {"v"}}}) {
		t.Error("Deny ignored")
	}
	if !ok(call{action: "ec2:CreateTags", res: []res{vpc}, ctx: map[string][]string{"aws:RequestTag/k": {"v"}}}) {
		t.Error("Deny applied where its Null condition fails")
	}
}

const (
	acct  = "123456789012"
	zone  = "Z0123456789EXAMPLE"
	P, D  = "cn-northwest-1", "cn-north-1"
	stack = "wordpress"
)

var own = map[string]string{"pilotlight:stack": stack, "pilotlight:managed-by": "pilotlight"}

func ctxTag() map[string][]string {
	return map[string][]string{"aws:RequestTag/pilotlight:stack": {stack}}
}

func with(m map[string][]string, k string, v ...string) map[string][]string {
	out := map[string][]string{}
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

func arnOf(svc, region, resource string) string {
	return "arn:aws-cn:" + svc + ":" + region + ":" + acct + ":" + resource
}
func ec2r(r string) string { return arnOf("ec2", D, r) }
func role(n string) string { return "arn:aws-cn:iam::" + acct + ":role/" + n }
func tagged(a string) res  { return res{arn: a, tags: own} }
func fresh(a string) res   { return res{arn: a} }
func theirs(a string) res {
	return res{arn: a, tags: map[string]string{"pilotlight:stack": "wordpress-staging"}}
}
func boundary() string { return "arn:aws-cn:iam::" + acct + ":policy/" + BoundaryName(stack) }
func withBoundaryCtx() map[string][]string {
	return map[string][]string{"iam:PermissionsBoundary": {boundary()}, "aws:RequestTag/pilotlight:stack": {stack}}
}

func region(r string) map[string][]string { return map[string][]string{"aws:RequestedRegion": {r}} }

// ownCalls are the calls each verb makes on the stack's own resources, as
// pilotlight makes them: the actions come from the recorded and declared
// calls (TestRecordedCallsAreGranted, TestEveryDeclaredCallIsGranted);
// here each carries the resource ARNs, tags and request keys IAM sees.
func ownCalls() map[string][]call {
	snapP := arnOf("rds", P, "snapshot:wordpress-wordpress-db-20261207031738")
	snapD := arnOf("rds", D, "snapshot:wordpress-wordpress-db-20261207031738")
	imgP, imgD := "arn:aws-cn:ec2:"+P+"::image/*", "arn:aws-cn:ec2:"+D+"::image/*"
	keyD := arnOf("kms", D, "key/1234abcd-12ab-34cd-56ef-1234567890ab")
	viaEC2 := map[string][]string{"kms:ViaService": {"ec2." + D + ".amazonaws.com.cn"}}
	viaS3 := map[string][]string{"kms:ViaService": {"s3." + D + ".amazonaws.com.cn"}}
	bucket := func(n string) string { return "arn:aws-cn:s3:::" + n }
	state := []call{
		{"state", "s3:GetBucketLocation", []res{fresh(bucket("wordpress-dr-state"))}, nil},
		{"state", "s3:ListBucket", []res{fresh(bucket("wordpress-dr-state"))}, map[string][]string{"s3:prefix": {"pilotlight/runs/"}}},
		{"state", "s3:GetObject", []res{fresh(bucket("wordpress-dr-state") + "/pilotlight/runs/x.json")}, nil},
		{"state", "s3:PutObject", []res{fresh(bucket("wordpress-dr-state") + "/pilotlight/runs/x.json")}, nil},
		{"state", "s3:DeleteObject", []res{fresh(bucket("wordpress-dr-state") + "/pilotlight/runs/x.json")}, nil},
	}
	for _, a := range []string{"dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"} {
		state = append(state, call{"state lock", a, []res{fresh(arnOf("dynamodb", D, "table/pilotlight-locks"))}, nil})
	}
	buckets := func(why string, acts ...string) []call {
		var out []call
		for _, a := range acts {
			for _, b := range []string{"wordpress-media-prod", "wordpress-media-dr"} {
				out = append(out, call{why, a, []res{fresh(bucket(b))}, nil})
			}
		}
		return out
	}
	objects := func(why, b string, acts ...string) []call {
		var out []call
		for _, a := range acts {
			out = append(out, call{why, a, []res{fresh(bucket(b) + "/uploads/a.jpg")}, nil})
		}
		return out
	}
	roleCalls := func(why string, names ...string) []call {
		var out []call
		for _, n := range names {
			out = append(out,
				call{why, "iam:GetRole", []res{fresh(role(n))}, nil},
				call{why, "iam:GetRolePolicy", []res{fresh(role(n))}, nil},
				call{why, "iam:CreateRole", []res{fresh(role(n))}, withBoundaryCtx()},
				call{why, "iam:TagRole", []res{fresh(role(n))}, withBoundaryCtx()},
				call{why, "iam:PutRolePolicy", []res{tagged(role(n))}, withBoundaryCtx()},
				call{why, "iam:UpdateAssumeRolePolicy", []res{tagged(role(n))}, withBoundaryCtx()})
		}
		return out
	}
	createTags := func(action string, r string) call {
		return call{"tags of " + action, "ec2:CreateTags", []res{fresh(r)}, with(ctxTag(), "ec2:CreateAction", strings.TrimPrefix(action, "ec2:"))}
	}
	vpc, subnet, rtb, sg, igw := tagged(ec2r("vpc/vpc-1")), tagged(ec2r("subnet/subnet-1")), tagged(ec2r("route-table/rtb-1")), tagged(ec2r("security-group/sg-1")), tagged(ec2r("internet-gateway/igw-1"))
	r53 := func(action string, r ...res) call { return call{"dns", action, r, nil} }
	zoneARN := "arn:aws-cn:route53:::hostedzone/" + zone
	records := map[string][]string{"route53:ChangeResourceRecordSetsNormalizedRecordNames": {"blog.example.com"}}

	out := map[string][]call{}
	out[Backup] = append([]call{
		{"snapshot", "rds:CreateDBSnapshot", []res{tagged(arnOf("rds", P, "db:wordpress-db")), fresh(snapP)}, ctxTag()},
		{"copy to DR", "rds:CopyDBSnapshot", []res{tagged(snapP), fresh(snapD)}, ctxTag()},
		{"tag point", "rds:AddTagsToResource", []res{fresh(snapD)}, ctxTag()},
		{"retention", "rds:DeleteDBSnapshot", []res{tagged(snapD)}, nil},
		{"retention", "rds:DeleteDBSnapshot", []res{tagged(snapP)}, nil},
		{"cluster snapshot", "rds:CreateDBClusterSnapshot", []res{tagged(arnOf("rds", P, "cluster:wordpress-aurora")), fresh(arnOf("rds", P, "cluster-snapshot:wordpress-wordpress-aurora-1"))}, ctxTag()},
		{"cluster copy", "rds:CopyDBClusterSnapshot", []res{tagged(arnOf("rds", P, "cluster-snapshot:wordpress-wordpress-aurora-1")), fresh(arnOf("rds", D, "cluster-snapshot:wordpress-wordpress-aurora-1"))}, ctxTag()},
		{"cluster retention", "rds:DeleteDBClusterSnapshot", []res{tagged(arnOf("rds", D, "cluster-snapshot:wordpress-wordpress-aurora-1"))}, nil},
		{"AMI", "ec2:CreateImage", []res{{arn: arnOf("ec2", P, "instance/i-0abc"), tags: map[string]string{"Role": "wordpress"}}, fresh(imgP), fresh("arn:aws-cn:ec2:" + P + "::snapshot/*")}, ctxTag()},
		{"AMI copy", "ec2:CopyImage", []res{fresh(imgD)}, ctxTag()},
		{"AMI tags", "ec2:CreateTags", []res{fresh(imgD)}, ctxTag()},
		{"AMI retention", "ec2:DeregisterImage", []res{tagged("arn:aws-cn:ec2:" + D + "::image/ami-1")}, nil},
		{"AMI retention", "ec2:DeleteSnapshot", []res{tagged("arn:aws-cn:ec2:" + D + "::snapshot/snap-1")}, nil},
		{"DR key", "kms:DescribeKey", []res{fresh(keyD)}, nil},
		{"DR key", "kms:CreateGrant", []res{fresh(keyD)}, map[string][]string{"kms:GrantIsForAWSResource": {"true"}}},
		{"AMI copy", "kms:Decrypt", []res{fresh(keyD)}, viaEC2},
		{"AMI copy", "kms:ReEncryptFrom", []res{fresh(keyD)}, viaEC2},
		{"AMI copy", "kms:ReEncrypt*", []res{fresh(keyD)}, viaEC2},
		{"AMI copy", "kms:GenerateDataKeyWithoutPlaintext", []res{fresh(keyD)}, viaEC2},
	}, state...)
	// The aws-backup engine (the Aurora cluster, engine auto): a job into
	// the primary vault, a copy job to the DR vault, both vaults pruned.
	vaultP, vaultD := arnOf("backup", P, "backup-vault:pilotlight-wordpress"), arnOf("backup", D, "backup-vault:pilotlight-wordpress")
	rpP := arnOf("rds", P, "cluster-snapshot:awsbackup:job-6e2d3b1c-0a9f-4c1e-9d7b-2f1a5e8c4b10")
	rpD := arnOf("rds", D, "cluster-snapshot:awsbackup:copyjob-0f4b2a8e-3c1d-4e5f-8a9b-7c6d5e4f3a21")
	backupRole := map[string][]string{"iam:PassedToService": {"backup.amazonaws.com"}}
	copyTo := map[string][]string{"backup:CopyTargets": {vaultD}}
	out[Backup] = append(out[Backup],
		call{"engine auto", "rds:DescribeSourceRegions", []res{fresh("*")}, region(D)},
		call{"backup job", "backup:StartBackupJob", []res{fresh(vaultP)}, nil},
		call{"backup job", "iam:PassRole", []res{fresh(role("wordpress-backup"))}, backupRole},
		call{"backup job", "backup:DescribeBackupJob", []res{fresh("*")}, region(P)},
		call{"copy job", "backup:StartCopyJob", []res{tagged(rpP)}, copyTo},
		call{"copy job", "backup:DescribeCopyJob", []res{fresh("*")}, region(P)},
		call{"retention", "backup:ListRecoveryPointsByBackupVault", []res{fresh(vaultP)}, nil},
		call{"retention", "backup:ListRecoveryPointsByBackupVault", []res{fresh(vaultD)}, nil},
		call{"retention", "backup:DeleteRecoveryPoint", []res{tagged(rpP)}, nil},
		call{"retention", "backup:DeleteRecoveryPoint", []res{tagged(rpD)}, nil},
		call{"retention", "backup:DeleteRecoveryPoint", []res{tagged(arnOf("backup", D, "recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"))}, nil},
		call{"AMI snapshots", "ec2:DescribeSnapshots", []res{fresh("*")}, region(P)},
	)
	// The DR copy of the app's SSM parameters (internal/secrets).
	paramP, paramD := arnOf("ssm", P, "parameter/wordpress/db-password"), arnOf("ssm", D, "parameter/wordpress/db-password")
	viaSSM := func(r string) map[string][]string {
		return map[string][]string{"kms:ViaService": {"ssm." + r + ".amazonaws.com.cn"}}
	}
	out[Backup] = append(out[Backup],
		call{"parameters", "ssm:GetParameter", []res{fresh(paramP)}, nil},
		call{"parameters", "ssm:ListTagsForResource", []res{fresh(paramP)}, nil},
		call{"parameters", "kms:Decrypt", []res{fresh(arnOf("kms", P, "key/0a1b2c3d-1111-2222-3333-444455556666"))}, viaSSM(P)},
		call{"parameters", "ssm:GetParameter", []res{fresh(paramD)}, nil},
		call{"parameters", "ssm:ListTagsForResource", []res{fresh(paramD)}, nil},
		call{"parameters", "ssm:PutParameter", []res{fresh(paramD)}, ctxTag()},
		call{"parameters", "ssm:AddTagsToResource", []res{fresh(paramD)}, ctxTag()},
		call{"parameters", "kms:Encrypt", []res{fresh(keyD)}, viaSSM(D)},
	)
	out[Replicate] = append(append(append(buckets("replicate", "s3:ListBucket", "s3:GetEncryptionConfiguration"),
		objects("read", "wordpress-media-prod", "s3:GetObject", "s3:GetObjectTagging")...),
		objects("write", "wordpress-media-dr", "s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload", "s3:DeleteObject")...),
		call{"keys", "kms:DescribeKey", []res{fresh(keyD)}, nil},
		call{"SSE-KMS", "kms:Decrypt", []res{fresh(keyD)}, viaS3},
		call{"SSE-KMS", "kms:GenerateDataKey", []res{fresh(keyD)}, viaS3},
		call{"SSE-KMS", "kms:Encrypt", []res{fresh(keyD)}, viaS3})
	// Object Lock: retention and legal hold read from the source, set on
	// the replica's copy.
	out[Replicate] = append(out[Replicate], buckets("object lock", "s3:GetObjectLockConfiguration")...)
	out[Replicate] = append(out[Replicate], objects("object lock", "wordpress-media-prod", "s3:GetObjectRetention", "s3:GetObjectLegalHold")...)
	out[Replicate] = append(out[Replicate], objects("object lock", "wordpress-media-dr", "s3:PutObjectRetention", "s3:PutObjectLegalHold")...)
	// S3 Batch Replication of the older objects, in the source's region.
	out[Replicate] = append(out[Replicate],
		call{"batch replication", "s3:CreateJob", []res{fresh("*")}, with(region(P), "s3:RequestJobOperation", "S3ReplicateObject")},
		call{"batch replication", "s3:DescribeJob", []res{fresh("*")}, region(P)},
		call{"batch status", "s3:ListJobs", []res{fresh("*")}, region(P)},
		call{"batch role", "iam:PassRole", []res{fresh(role(stack + "-s3-batch-replication"))}, map[string][]string{"iam:PassedToService": {"batchoperations.s3.amazonaws.com"}}},
		call{"batch role", "iam:PassRole", []res{fresh(role(stack + "-s3-batch-replication"))}, map[string][]string{"iam:PassedToService": {"s3.amazonaws.com"}}},
		call{"engine auto", "cloudwatch:GetMetricStatistics", []res{fresh("*")}, region(P)})
	out[Replicate] = append(out[Replicate], objects("restore archived", "wordpress-media-prod", "s3:RestoreObject")...)
	// verify from the source's S3 Inventory, delivered to a bucket of the
	// account under <prefix>/<source>/<config id>/.
	inv := map[string][]string{"s3:ResourceAccount": {acct}}
	out[Replicate] = append(out[Replicate],
		call{"inventory", "s3:GetInventoryConfiguration", []res{fresh(bucket("wordpress-media-prod"))}, nil},
		call{"inventory", "s3:ListBucket", []res{fresh(bucket("wp-inventory"))}, with(inv, "s3:prefix", "inventories/wordpress-media-prod/all/")},
		call{"inventory", "s3:ListBucket", []res{fresh(bucket("wp-inventory"))}, with(inv, "s3:prefix", "wordpress-media-prod/all/")},
		call{"inventory", "s3:GetObject", []res{fresh(bucket("wp-inventory") + "/inventories/wordpress-media-prod/all/2026-12-07T01-00Z/manifest.json")}, inv},
		call{"inventory", "s3:GetObject", []res{fresh(bucket("wp-inventory") + "/wordpress-media-prod/all/data/0a1b.csv.gz")}, inv})
	out[Replicate] = append(out[Replicate], state...)

	prep := append(buckets("replication set-up", "s3:GetBucketLocation", "s3:CreateBucket", "s3:PutBucketTagging", "s3:GetBucketVersioning",
		"s3:PutBucketVersioning", "s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration", "s3:GetEncryptionConfiguration"),
		roleCalls("roles", stack+"-s3-replication", stack+"-s3-batch-replication", stack+"-dr-app")...)
	prep = append(prep,
		call{"replication", "iam:PassRole", []res{fresh(role(stack + "-s3-replication"))}, map[string][]string{"iam:PassedToService": {"s3.amazonaws.com"}}},
		call{"keys", "kms:DescribeKey", []res{fresh(keyD)}, nil},
		call{"profile", "iam:GetInstanceProfile", []res{fresh("arn:aws-cn:iam::" + acct + ":instance-profile/wordpress-dr-app")}, nil},
		call{"profile", "iam:CreateInstanceProfile", []res{fresh("arn:aws-cn:iam::" + acct + ":instance-profile/wordpress-dr-app")}, nil},
		call{"profile", "iam:TagInstanceProfile", []res{fresh("arn:aws-cn:iam::" + acct + ":instance-profile/wordpress-dr-app")}, ctxTag()},
		call{"profile", "iam:AddRoleToInstanceProfile", []res{fresh("arn:aws-cn:iam::" + acct + ":instance-profile/wordpress-dr-app")}, nil},
		call{"network", "ec2:CreateVpc", []res{fresh(ec2r("vpc/*"))}, ctxTag()},
		createTags("CreateVpc", ec2r("vpc/*")),
		call{"network", "ec2:ModifyVpcAttribute", []res{vpc}, nil},
		call{"network", "ec2:CreateSubnet", []res{fresh(ec2r("subnet/*")), vpc}, ctxTag()},
		createTags("CreateSubnet", ec2r("subnet/*")),
		call{"network", "ec2:ModifySubnetAttribute", []res{subnet}, nil},
		call{"network", "ec2:CreateInternetGateway", []res{fresh(ec2r("internet-gateway/*"))}, ctxTag()},
		call{"network", "ec2:AttachInternetGateway", []res{igw, vpc}, nil},
		call{"network", "ec2:CreateRouteTable", []res{fresh(ec2r("route-table/*")), vpc}, ctxTag()},
		call{"network", "ec2:CreateRoute", []res{rtb}, nil},
		call{"network", "ec2:AssociateRouteTable", []res{rtb, subnet}, nil},
		call{"network", "ec2:CreateSecurityGroup", []res{fresh(ec2r("security-group/*")), vpc}, ctxTag()},
		createTags("CreateSecurityGroup", ec2r("security-group/*")),
		call{"network", "ec2:AuthorizeSecurityGroupIngress", []res{sg}, nil},
		call{"network", "ec2:CreateVpcEndpoint", []res{fresh(ec2r("vpc-endpoint/*")), vpc, rtb}, ctxTag()},
		call{"subnet group", "rds:CreateDBSubnetGroup", []res{fresh(arnOf("rds", D, "subgrp:wordpress-dr-db"))}, ctxTag()},
		call{"subnet group", "rds:AddTagsToResource", []res{fresh(arnOf("rds", D, "subgrp:wordpress-dr-db"))}, ctxTag()},
		call{"subnet group", "elasticache:CreateCacheSubnetGroup", []res{fresh(arnOf("elasticache", D, "subnetgroup:wordpress-dr-cache"))}, ctxTag()},
		call{"subnet group", "elasticache:AddTagsToResource", []res{fresh(arnOf("elasticache", D, "subnetgroup:wordpress-dr-cache"))}, ctxTag()},
		call{"DR LB", "elasticloadbalancing:CreateLoadBalancer", []res{fresh(arnOf("elasticloadbalancing", D, "loadbalancer/app/wordpress-dr/*"))}, ctxTag()},
		call{"DR LB", "elasticloadbalancing:CreateTargetGroup", []res{fresh(arnOf("elasticloadbalancing", D, "targetgroup/wordpress-dr/*"))}, ctxTag()},
		call{"DR LB", "elasticloadbalancing:AddTags", []res{fresh(arnOf("elasticloadbalancing", D, "loadbalancer/app/wordpress-dr/*"))}, ctxTag()},
		call{"DR LB", "elasticloadbalancing:CreateListener", []res{tagged(arnOf("elasticloadbalancing", D, "loadbalancer/app/wordpress-dr/50dc6c495c0c9188"))}, nil},
		r53("route53:ListResourceRecordSets", fresh(zoneARN)),
		call{"dns", "route53:ChangeResourceRecordSets", []res{fresh(zoneARN)}, records},
		r53("route53:GetChange", fresh("arn:aws-cn:route53:::change/C1")),
		r53("route53:CreateHealthCheck", fresh("arn:aws-cn:route53:::healthcheck/*")),
		r53("route53:ChangeTagsForResource", fresh("arn:aws-cn:route53:::healthcheck/hc-1")),
	)
	// Failback builds the primary's network as prepare does (it runs with
	// prepare's grants as well as failover's).
	prep = append(prep,
		call{"failback network", "ec2:CreateVpc", []res{fresh(arnOf("ec2", P, "vpc/*"))}, ctxTag()},
		call{"failback network", "ec2:CreateSubnet", []res{fresh(arnOf("ec2", P, "subnet/*")), tagged(arnOf("ec2", P, "vpc/vpc-2"))}, ctxTag()},
		call{"failback network", "ec2:AuthorizeSecurityGroupIngress", []res{tagged(arnOf("ec2", P, "security-group/sg-2"))}, nil})
	pin := arnOf("cloudwatch", D, "alarm:pilotlight-wordpress-failed-over")
	tgD := tagged(arnOf("elasticloadbalancing", D, "targetgroup/wordpress-dr/6d0ecf831eec9f09"))
	amiKey := arnOf("kms", D, "key/7f3e2d1c-aaaa-bbbb-cccc-0123456789ab")
	aliasKey := map[string][]string{"kms:ResourceAliases": {"alias/dr-ami"}}
	prep = append(prep,
		call{"failover pin", "cloudwatch:PutMetricAlarm", []res{fresh(pin)}, ctxTag()},
		call{"failover pin", "cloudwatch:TagResource", []res{fresh(pin)}, ctxTag()},
		call{"DR LB health check", "elasticloadbalancing:ModifyTargetGroup", []res{tgD}, nil},
		call{"DR image key", "kms:DescribeKey", []res{fresh(amiKey)}, aliasKey},
		call{"DR image key", "kms:GetKeyPolicy", []res{fresh(amiKey)}, aliasKey},
		call{"DR image key", "kms:PutKeyPolicy", []res{fresh(amiKey)}, aliasKey},
	)
	// The aws-backup engine's vaults, the DR vault's lock, and AWS
	// Backup's default role under the boundary (the ledger names none).
	defRole := role("service-role/AWSBackupDefaultServiceRole")
	managedPol := func(n string) map[string][]string {
		return map[string][]string{"iam:PolicyARN": {"arn:aws-cn:iam::aws:policy/service-role/" + n}}
	}
	prep = append(prep,
		call{"vaults", "backup:DescribeBackupVault", []res{fresh(vaultP)}, nil},
		call{"vaults", "backup:CreateBackupVault", []res{fresh(vaultD)}, nil},
		call{"vault lock", "backup:PutBackupVaultLockConfiguration", []res{fresh(vaultD)}, nil},
		call{"backup role", "iam:GetRole", []res{fresh(defRole)}, nil},
		call{"backup role", "iam:ListAttachedRolePolicies", []res{fresh(defRole)}, nil},
		call{"backup role", "iam:CreateRole", []res{fresh(defRole)}, withBoundaryCtx()},
		call{"backup role", "iam:TagRole", []res{fresh(defRole)}, withBoundaryCtx()},
		call{"backup role", "iam:AttachRolePolicy", []res{fresh(defRole)}, managedPol("AWSBackupServiceRolePolicyForBackup")},
		call{"backup role", "iam:AttachRolePolicy", []res{fresh(defRole)}, managedPol("AWSBackupServiceRolePolicyForRestores")},
	)
	out[Prepare] = append(prep, state...)

	lt := tagged(ec2r("launch-template/lt-1"))
	fo := append(buckets("failback", "s3:ListBucket", "s3:GetEncryptionConfiguration"),
		objects("failback", "wordpress-media-prod", "s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload")...)
	dbDR := arnOf("rds", D, "db:wordpress-db-dr")
	fo = append(fo,
		call{"app", "iam:PassRole", []res{fresh(role(stack + "-dr-app"))}, map[string][]string{"iam:PassedToService": {"ec2.amazonaws.com.cn"}}},
		call{"app", "iam:GetRole", []res{fresh(role(stack + "-dr-app"))}, nil},
		call{"teardown", "iam:GetInstanceProfile", []res{fresh("arn:aws-cn:iam::" + acct + ":instance-profile/wordpress-dr-app")}, nil},
		call{"teardown", "iam:RemoveRoleFromInstanceProfile", []res{fresh("arn:aws-cn:iam::" + acct + ":instance-profile/wordpress-dr-app")}, nil},
		call{"teardown", "iam:DeleteInstanceProfile", []res{fresh("arn:aws-cn:iam::" + acct + ":instance-profile/wordpress-dr-app")}, nil},
		call{"teardown", "iam:DeleteRolePolicy", []res{tagged(role(stack + "-dr-app"))}, nil},
		call{"teardown", "iam:DeleteRole", []res{tagged(role(stack + "-dr-app"))}, nil},
		call{"app", "ec2:CreateLaunchTemplate", []res{fresh(ec2r("launch-template/*"))}, ctxTag()},
		createTags("CreateLaunchTemplate", ec2r("launch-template/*")),
		call{"app", "ec2:RunInstances", []res{fresh(ec2r("instance/*")), fresh(ec2r("volume/*")), fresh(ec2r("network-interface/*")),
			tagged("arn:aws-cn:ec2:" + D + "::image/ami-1"), subnet, sg, lt}, ctxTag()},
		call{"egress", "ec2:AllocateAddress", []res{fresh(ec2r("elastic-ip/*"))}, ctxTag()},
		call{"egress", "ec2:CreateNatGateway", []res{fresh(ec2r("natgateway/*")), subnet, tagged(ec2r("elastic-ip/eipalloc-1"))}, ctxTag()},
		call{"egress", "ec2:CreateRoute", []res{rtb}, nil},
		call{"egress", "ec2:ReplaceRoute", []res{rtb}, nil},
		call{"database", "rds:RestoreDBInstanceFromDBSnapshot", []res{fresh(dbDR), tagged(snapD), tagged(arnOf("rds", D, "subgrp:wordpress-dr-db")),
			fresh(arnOf("rds", D, "og:default:mysql-8-0")), fresh(arnOf("rds", D, "pg:default.mysql8.0"))}, ctxTag()},
		call{"database", "rds:RestoreDBClusterFromSnapshot", []res{fresh(arnOf("rds", D, "cluster:wordpress-db-dr")),
			tagged(arnOf("rds", D, "cluster-snapshot:wordpress-wordpress-aurora-1")), tagged(arnOf("rds", D, "subgrp:wordpress-dr-db")),
			fresh(arnOf("rds", D, "cluster-pg:default.aurora-mysql8.0"))}, ctxTag()},
		call{"database", "rds:CreateDBInstance", []res{fresh(arnOf("rds", D, "db:wordpress-db-dr-1")), tagged(arnOf("rds", D, "cluster:wordpress-db-dr")),
			tagged(arnOf("rds", D, "subgrp:wordpress-dr-db")), fresh(arnOf("rds", D, "pg:default.aurora-mysql8.0"))}, ctxTag()},
		call{"database", "rds:AddTagsToResource", []res{fresh(dbDR)}, ctxTag()},
		call{"failback", "rds:CreateDBSnapshot", []res{tagged(dbDR), fresh(arnOf("rds", D, "snapshot:wordpress-wordpress-db-20261208"))}, ctxTag()},
		call{"failback", "rds:CopyDBSnapshot", []res{tagged(arnOf("rds", D, "snapshot:wordpress-wordpress-db-20261208")), fresh(arnOf("rds", P, "snapshot:wordpress-wordpress-db-20261208"))}, nil},
		// An Aurora cluster comes home by cluster snapshots.
		call{"failback", "rds:CreateDBClusterSnapshot", []res{tagged(arnOf("rds", D, "cluster:wordpress-db-dr")), fresh(arnOf("rds", D, "cluster-snapshot:wordpress-20261208-fb-1"))}, ctxTag()},
		call{"failback", "rds:CopyDBClusterSnapshot", []res{tagged(arnOf("rds", D, "cluster-snapshot:wordpress-20261208-fb-1")), fresh(arnOf("rds", P, "cluster-snapshot:wordpress-20261208-fb-1"))}, nil},
		call{"cache", "elasticache:CreateReplicationGroup", []res{fresh(arnOf("elasticache", D, "replicationgroup:wordpress-cache")),
			fresh(arnOf("elasticache", D, "cluster:wordpress-cache-001")), tagged(arnOf("elasticache", D, "subnetgroup:wordpress-dr-cache")),
			fresh(arnOf("elasticache", D, "parametergroup:default.redis7"))}, ctxTag()},
		call{"cache", "elasticache:AddTagsToResource", []res{fresh(arnOf("elasticache", D, "replicationgroup:wordpress-cache"))}, ctxTag()},
		call{"app LB", "elasticloadbalancing:CreateLoadBalancer", []res{fresh(arnOf("elasticloadbalancing", D, "loadbalancer/app/wordpress-app/*"))}, ctxTag()},
		call{"app LB", "elasticloadbalancing:CreateTargetGroup", []res{fresh(arnOf("elasticloadbalancing", D, "targetgroup/wordpress-app/*"))}, ctxTag()},
		call{"app LB", "elasticloadbalancing:AddTags", []res{fresh(arnOf("elasticloadbalancing", D, "targetgroup/wordpress-app/*"))}, ctxTag()},
		call{"app LB", "elasticloadbalancing:CreateListener", []res{tagged(arnOf("elasticloadbalancing", D, "loadbalancer/app/wordpress-app/50dc6c495c0c9188"))}, nil},
		call{"app", "autoscaling:CreateAutoScalingGroup", []res{fresh(arnOf("autoscaling", D, "autoScalingGroup:*:autoScalingGroupName/wordpress-app"))}, ctxTag()},
		call{"app", "autoscaling:CreateOrUpdateTags", []res{fresh(arnOf("autoscaling", D, "autoScalingGroup:*:autoScalingGroupName/wordpress-app"))}, ctxTag()},
		r53("route53:ListResourceRecordSets", fresh(zoneARN)),
		call{"dns", "route53:ChangeResourceRecordSets", []res{fresh(zoneARN)}, records},
		r53("route53:GetChange", fresh("arn:aws-cn:route53:::change/C1")),
		r53("route53:DeleteHealthCheck", fresh("arn:aws-cn:route53:::healthcheck/hc-1")),
	)
	// Failback: the same steps, in the primary region.
	fbDB := arnOf("rds", P, "db:wordpress-wordpress-db-fb")
	fo = append(fo,
		call{"failback app", "ec2:RunInstances", []res{fresh(arnOf("ec2", P, "instance/*")), fresh(arnOf("ec2", P, "volume/*")),
			tagged("arn:aws-cn:ec2:" + P + "::image/ami-2"), tagged(arnOf("ec2", P, "subnet/subnet-2")), tagged(arnOf("ec2", P, "launch-template/lt-2"))}, ctxTag()},
		call{"failback database", "rds:RestoreDBInstanceFromDBSnapshot", []res{fresh(fbDB), tagged(arnOf("rds", P, "snapshot:wordpress-wordpress-db-20261208")),
			tagged(arnOf("rds", P, "subgrp:wordpress-dr-db-fb")), fresh(arnOf("rds", P, "pg:default.mysql8.0"))}, ctxTag()},
		call{"failback LB", "elasticloadbalancing:CreateLoadBalancer", []res{fresh(arnOf("elasticloadbalancing", P, "loadbalancer/app/wordpress-app-fb/*"))}, ctxTag()},
		call{"failback teardown of the DR stack", "rds:DeleteDBInstance", []res{tagged(dbDR)}, nil},
		// The zero-loss catch-up: a replica of the DR database in the
		// primary, promoted after the freeze.
		call{"failback catch-up replica", "rds:CreateDBInstanceReadReplica", []res{fresh(fbDB), tagged(dbDR),
			tagged(arnOf("rds", P, "subgrp:wordpress-dr-db-fb"))}, ctxTag()},
		call{"failback promotes its replica", "rds:PromoteReadReplica", []res{tagged(fbDB)}, nil},
	)
	// teardown --kind old-primary: the production an earlier failback
	// built, retired in the primary once a later failback replaced it.
	oldASG := arnOf("autoscaling", P, "autoScalingGroup:4c2d0b7e-1111-2222-3333-444455556666:autoScalingGroupName/wordpress-app-fb")
	for _, d := range []struct{ action, arn string }{
		{"rds:DeleteDBInstance", fbDB}, {"rds:DeleteDBCluster", arnOf("rds", P, "cluster:wordpress-wordpress-aurora-fb")},
		{"autoscaling:DeleteAutoScalingGroup", oldASG}, {"ec2:TerminateInstances", arnOf("ec2", P, "instance/i-0123456789abcdef0")},
		{"ec2:DeleteLaunchTemplate", arnOf("ec2", P, "launch-template/lt-2")},
		{"elasticloadbalancing:DeleteLoadBalancer", arnOf("elasticloadbalancing", P, "loadbalancer/app/wordpress-app-fb/73e2d6bc24d8a067")},
		{"elasticloadbalancing:DeleteTargetGroup", arnOf("elasticloadbalancing", P, "targetgroup/wordpress-app-fb/73e2d6bc24d8a067")},
	} {
		fo = append(fo, call{"retire old primary", d.action, []res{tagged(d.arn)}, nil})
	}
	for _, d := range []struct{ action, arn string }{
		{"ec2:DeleteNatGateway", ec2r("natgateway/nat-1")}, {"ec2:ReleaseAddress", ec2r("elastic-ip/eipalloc-1")},
		{"ec2:DeleteRoute", ec2r("route-table/rtb-1")}, {"ec2:DeleteVpcEndpoints", ec2r("vpc-endpoint/vpce-1")},
		{"ec2:DeleteLaunchTemplate", ec2r("launch-template/lt-1")}, {"ec2:DeleteVpc", ec2r("vpc/vpc-1")},
		{"ec2:DeleteSubnet", ec2r("subnet/subnet-1")}, {"ec2:DeleteSecurityGroup", ec2r("security-group/sg-1")},
		{"ec2:RevokeSecurityGroupIngress", ec2r("security-group/sg-1")}, {"ec2:DeleteRouteTable", ec2r("route-table/rtb-1")},
		{"ec2:DisassociateRouteTable", ec2r("route-table/rtb-1")}, {"ec2:DetachInternetGateway", ec2r("internet-gateway/igw-1")},
		{"ec2:DeleteInternetGateway", ec2r("internet-gateway/igw-1")},
		{"rds:DeleteDBInstance", dbDR}, {"rds:DeleteDBCluster", arnOf("rds", D, "cluster:wordpress-db-dr")},
		{"rds:DeleteDBSubnetGroup", arnOf("rds", D, "subgrp:wordpress-dr-db")},
		{"elasticache:DeleteReplicationGroup", arnOf("elasticache", D, "replicationgroup:wordpress-cache")},
		{"elasticache:DeleteCacheSubnetGroup", arnOf("elasticache", D, "subnetgroup:wordpress-dr-cache")},
		{"elasticloadbalancing:DeleteLoadBalancer", arnOf("elasticloadbalancing", D, "loadbalancer/app/wordpress-app/50dc6c495c0c9188")},
		{"elasticloadbalancing:DeleteTargetGroup", arnOf("elasticloadbalancing", D, "targetgroup/wordpress-app/50dc6c495c0c9188")},
		{"autoscaling:DeleteAutoScalingGroup", arnOf("autoscaling", D, "autoScalingGroup:4c2d0b7e-1111-2222-3333-444455556666:autoScalingGroupName/wordpress-app")},
	} {
		fo = append(fo, call{"teardown", d.action, []res{tagged(d.arn)}, nil})
	}
	// Failback drops its intermediate snapshots, tagged as a failback's.
	fbSnap := func(a string) res {
		return res{arn: a, tags: map[string]string{"pilotlight:stack": stack, "pilotlight:op-kind": "failback"}}
	}
	fo = append(fo,
		call{"failback drops its snapshots", "rds:DeleteDBSnapshot", []res{fbSnap(arnOf("rds", D, "snapshot:wordpress-20261208-fb-1"))}, nil},
		call{"failback drops its snapshots", "rds:DeleteDBClusterSnapshot", []res{fbSnap(arnOf("rds", D, "cluster-snapshot:wordpress-20261208-fb-1"))}, nil},
		call{"failback drops its snapshots", "rds:DeleteDBClusterSnapshot", []res{fbSnap(arnOf("rds", P, "cluster-snapshot:wordpress-20261208-fb-1"))}, nil},
		// teardown --kind old-primary: the last copy home, which the
		// retired generation was restored from.
		call{"retire old primary", "rds:DeleteDBSnapshot", []res{fbSnap(arnOf("rds", P, "snapshot:wordpress-20261208-fb"))}, nil},
		call{"retire old primary", "rds:DeleteDBClusterSnapshot", []res{fbSnap(arnOf("rds", P, "cluster-snapshot:wordpress-20261208-fb"))}, nil},
	)
	// The app's boot grace back to the configured one, the target
	// group's health check, the SSM hand-off (failback's in the primary),
	// the DR copies of the secrets checked, the pin moved.
	asg := tagged(arnOf("autoscaling", D, "autoScalingGroup:4c2d0b7e-1111-2222-3333-444455556666:autoScalingGroupName/wordpress-app"))
	fo = append(fo,
		call{"boot grace", "autoscaling:UpdateAutoScalingGroup", []res{asg}, nil},
		call{"app LB health check", "elasticloadbalancing:ModifyTargetGroup", []res{tagged(arnOf("elasticloadbalancing", D, "targetgroup/wordpress-app/50dc6c495c0c9188"))}, nil},
		call{"failback LB health check", "elasticloadbalancing:ModifyTargetGroup", []res{tagged(arnOf("elasticloadbalancing", P, "targetgroup/wordpress-app-fb/73e2d6bc24d8a067"))}, nil},
		call{"secrets", "ssm:GetParameter", []res{fresh(paramD)}, nil},
		call{"secrets", "ssm:ListTagsForResource", []res{fresh(paramD)}, nil},
		call{"pin", "cloudwatch:DescribeAlarms", []res{fresh(pin)}, nil},
		call{"pin", "cloudwatch:SetAlarmState", []res{fresh(pin)}, nil},
		call{"pin", "cloudwatch:PutMetricData", []res{fresh("*")}, region(D)},
		call{"teardown --network", "cloudwatch:DeleteAlarms", []res{fresh(pin)}, nil},
		call{"newest DR recovery point", "backup:ListRecoveryPointsByBackupVault", []res{fresh(vaultD)}, nil},
	)
	for _, r := range []string{D, P} {
		for _, n := range []string{"db-endpoint", "cache-endpoint-drill"} {
			p := arnOf("ssm", r, "parameter/wordpress/recovery/"+n)
			fo = append(fo,
				call{"hand-off", "ssm:PutParameter", []res{fresh(p)}, ctxTag()},
				call{"hand-off", "ssm:AddTagsToResource", []res{fresh(p)}, ctxTag()},
				call{"hand-off", "ssm:GetParameter", []res{fresh(p)}, nil},
				call{"hand-off", "ssm:ListTagsForResource", []res{fresh(p)}, nil},
				call{"teardown", "ssm:DeleteParameter", []res{fresh(p)}, nil})
		}
	}
	fo = append(fo, buckets("failback object lock", "s3:GetObjectLockConfiguration")...)
	fo = append(fo, objects("failback object lock", "wordpress-media-dr", "s3:GetObjectRetention", "s3:GetObjectLegalHold")...)
	fo = append(fo, objects("failback object lock", "wordpress-media-prod", "s3:PutObjectRetention", "s3:PutObjectLegalHold")...)
	out[Failover] = append(fo, state...)

	fn := arnOf("lambda", D, "function:wordpress-pilotlight")
	dep := roleCalls("deploy roles", stack+"-pilotlight", stack+"-pilotlight-scheduler")
	dep = append(dep,
		call{"function", "iam:PassRole", []res{fresh(role(stack + "-pilotlight"))}, map[string][]string{"iam:PassedToService": {"lambda.amazonaws.com"}}},
		call{"schedules", "iam:PassRole", []res{fresh(role(stack + "-pilotlight-scheduler"))}, map[string][]string{"iam:PassedToService": {"scheduler.amazonaws.com"}}})
	for _, a := range []string{"lambda:GetFunction", "lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:TagResource"} {
		dep = append(dep, call{"function", a, []res{fresh(fn)}, nil})
	}
	for _, a := range []string{"scheduler:GetSchedule", "scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"} {
		dep = append(dep, call{"schedule", a, []res{fresh(arnOf("scheduler", D, "schedule/default/wordpress-wordpress-db"))}, nil})
	}
	topic := arnOf("sns", D, "wordpress-pilotlight-alarms")
	dep = append(dep,
		call{"alarm topic", "sns:CreateTopic", []res{fresh(topic)}, ctxTag()},
		call{"alarm topic", "sns:TagResource", []res{fresh(topic)}, ctxTag()})
	for _, n := range []string{"pilotlight-wordpress-wordpress-db-rpo", "pilotlight-wordpress-wordpress-db-failures"} {
		a := arnOf("cloudwatch", D, "alarm:"+n)
		dep = append(dep,
			call{"alarms", "cloudwatch:PutMetricAlarm", []res{fresh(a)}, ctxTag()},
			call{"alarms", "cloudwatch:TagResource", []res{fresh(a)}, ctxTag()},
			call{"alarms of resources gone from the config", "cloudwatch:DeleteAlarms", []res{tagged(a)}, nil})
	}
	out[Deploy] = append(dep, state...)

	iamRead := []string{}
	for _, a := range []string{"role/wordpress-prod-app", "instance-profile/wordpress-prod-app", "policy/x"} {
		iamRead = append(iamRead, "arn:aws-cn:iam::"+acct+":"+a)
	}
	var ini []call
	for _, a := range iamRead {
		ini = append(ini, call{"discovery", "iam:*", []res{fresh(a)}, nil})
	}
	out[Init] = append(ini, state...)
	return out
}

// policyConfig is the example stack with remote state and an Aurora
// cluster, so that every kind of grant is present.
func policyConfig(t *testing.T) (*Document, map[string]*Document) {
	t.Helper()
	cfg := coverageConfig(t)
	cfg.State.Path = "s3://wordpress-dr-state/pilotlight"
	docs := map[string]*Document{}
	for _, v := range Verbs() {
		d, err := ForWith(cfg, acct, Options{HostedZoneID: zone}, v)
		if err != nil {
			t.Fatal(err)
		}
		docs[v] = d
	}
	all, err := ForWith(cfg, acct, Options{HostedZoneID: zone}, Verbs()...)
	if err != nil {
		t.Fatal(err)
	}
	return all, docs
}

// TestEveryOwnCallIsAllowed evaluates, per verb, each call the verb makes
// on the stack's own resources, and checks that every action the verb's
// policy grants is exercised by one of them (reads on "*" excepted: they
// carry no resource and are checked by region).
func TestEveryOwnCallIsAllowed(t *testing.T) {
	_, docs := policyConfig(t)
	calls := ownCalls()
	for verb, doc := range docs {
		exercised := map[string]bool{}
		for _, c := range calls[verb] {
			if c.action == "iam:*" { // init: every IAM read it grants, on any role
				for _, s := range doc.Statement {
					for _, a := range s.Action {
						if strings.HasPrefix(a, "iam:") {
							cc := c
							cc.action = a
							if ok, why := evaluate(t, doc, cc); !ok {
								t.Errorf("--for %s denies %s: %s", verb, cc, why)
							}
							exercised[a] = true
						}
					}
				}
				continue
			}
			exercised[c.action] = true
			if ok, why := evaluate(t, doc, c); !ok {
				t.Errorf("--for %s denies %s: %s", verb, c, why)
			}
		}
		var missing []string
		for _, s := range doc.Statement {
			if s.Effect != "Allow" {
				continue
			}
			for _, a := range s.Action {
				if exercised[a] {
					continue
				}
				if len(s.Resource) == 1 && s.Resource[0] == "*" {
					rg := D
					if verb == Init {
						rg = P
					}
					c := call{"read", a, []res{fresh("*")}, region(rg)}
					if ok, why := evaluate(t, doc, c); !ok {
						t.Errorf("--for %s denies %s: %s", verb, c, why)
					}
					continue
				}
				missing = append(missing, s.Sid+":"+a)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("--for %s grants actions no call here exercises (add the call pilotlight makes): %v", verb, missing)
		}
	}
}

// TestEscalationsAreDenied is the list of what a holder of the policy
// for every verb must not be able to do.
func TestEscalationsAreDenied(t *testing.T) {
	all, _ := policyConfig(t)
	prodRole := role("wordpress-prod-app")
	admin := "arn:aws-cn:iam::aws:policy/AdministratorAccess"
	deny := []call{
		{"create a role without the boundary", "iam:CreateRole", []res{fresh(role("wordpress-dr-app"))}, ctxTag()},
		{"create a role with another boundary", "iam:CreateRole", []res{fresh(role("wordpress-dr-app"))}, with(ctxTag(), "iam:PermissionsBoundary", admin)},
		{"create a role by prefix", "iam:CreateRole", []res{fresh(role("wordpress-dr-app-x"))}, withBoundaryCtx()},
		{"put a policy on the production role", "iam:PutRolePolicy", []res{fresh(prodRole)}, nil},
		{"rewrite the production role's trust", "iam:UpdateAssumeRolePolicy", []res{fresh(prodRole)}, nil},
		{"attach admin to pilotlight's own role", "iam:AttachRolePolicy", []res{tagged(role("wordpress-dr-app"))}, withBoundaryCtx()},
		{"drop the boundary", "iam:DeleteRolePermissionsBoundary", []res{tagged(role("wordpress-dr-app"))}, withBoundaryCtx()},
		{"rewrite the boundary", "iam:CreatePolicyVersion", []res{fresh(boundary())}, nil},
		{"pass the production role", "iam:PassRole", []res{fresh(prodRole)}, map[string][]string{"iam:PassedToService": {"ec2.amazonaws.com.cn"}}},
		{"pass the app role to Lambda", "iam:PassRole", []res{fresh(role("wordpress-dr-app"))}, map[string][]string{"iam:PassedToService": {"lambda.amazonaws.com"}}},
		{"pass a role named by prefix", "iam:PassRole", []res{fresh(role("wordpress-dr-app-admin"))}, map[string][]string{"iam:PassedToService": {"ec2.amazonaws.com.cn"}}},
		{"delete the production role", "iam:DeleteRole", []res{fresh(prodRole)}, nil},
		{"change another hosted zone", "route53:ChangeResourceRecordSets", []res{fresh("arn:aws-cn:route53:::hostedzone/ZOTHERZONE")},
			map[string][]string{"route53:ChangeResourceRecordSetsNormalizedRecordNames": {"blog.example.com"}}},
		{"change another record of the zone", "route53:ChangeResourceRecordSets", []res{fresh("arn:aws-cn:route53:::hostedzone/" + zone)},
			map[string][]string{"route53:ChangeResourceRecordSetsNormalizedRecordNames": {"blog.example.com", "www.example.com"}}},
		{"delete another stack's snapshot", "rds:DeleteDBSnapshot", []res{theirs(arnOf("rds", D, "snapshot:wordpress-staging-db-20261207031738"))}, nil},
		{"delete an untagged snapshot by prefix", "rds:DeleteDBSnapshot", []res{fresh(arnOf("rds", P, "snapshot:wordpress-before-upgrade"))}, nil},
		{"relabel another stack's snapshot", "rds:AddTagsToResource", []res{theirs(arnOf("rds", D, "snapshot:wordpress-staging-db-20261207031738"))}, ctxTag()},
		{"delete another stack's DB", "rds:DeleteDBInstance", []res{theirs(arnOf("rds", D, "db:wordpress-staging-db-dr"))}, nil},
		{"delete an untagged DB by prefix", "rds:DeleteDBInstance", []res{fresh(arnOf("rds", D, "db:wordpress-db-dr"))}, nil},
		{"delete another stack's cache", "elasticache:DeleteReplicationGroup", []res{theirs(arnOf("elasticache", D, "replicationgroup:wordpress-staging-cache"))}, nil},
		{"open another stack's security group", "ec2:AuthorizeSecurityGroupIngress", []res{theirs(ec2r("security-group/sg-other"))}, nil},
		{"open an untagged security group", "ec2:AuthorizeSecurityGroupIngress", []res{fresh(ec2r("security-group/sg-prod"))}, nil},
		{"tag an existing security group as ours", "ec2:CreateTags", []res{fresh(ec2r("security-group/sg-prod"))}, ctxTag()},
		{"relabel another stack's security group on create", "ec2:CreateTags", []res{theirs(ec2r("security-group/sg-other"))}, with(ctxTag(), "ec2:CreateAction", "CreateSecurityGroup")},
		{"route another stack's subnets", "ec2:ReplaceRoute", []res{theirs(ec2r("route-table/rtb-other"))}, nil},
		{"launch into another stack's subnet", "ec2:RunInstances", []res{fresh(ec2r("instance/*")), theirs(ec2r("subnet/subnet-other"))}, ctxTag()},
		{"create a VPC without the stack tag", "ec2:CreateVpc", []res{fresh(ec2r("vpc/*"))}, nil},
		{"create a subnet in an untagged VPC", "ec2:CreateSubnet", []res{fresh(ec2r("subnet/*")), fresh(ec2r("vpc/vpc-prod"))}, ctxTag()},
		{"add a listener to another load balancer", "elasticloadbalancing:CreateListener", []res{fresh(arnOf("elasticloadbalancing", D, "loadbalancer/app/prod/1"))}, nil},
		{"delete another stack's load balancer", "elasticloadbalancing:DeleteLoadBalancer", []res{theirs(arnOf("elasticloadbalancing", D, "loadbalancer/app/wordpress-staging-app/1"))}, nil},
		{"snapshot an untagged DB in the DR region", "rds:CreateDBSnapshot", []res{fresh(arnOf("rds", D, "db:billing")), fresh(arnOf("rds", D, "snapshot:wordpress-x"))}, ctxTag()},
		{"open production's security group in the primary region", "ec2:AuthorizeSecurityGroupIngress", []res{fresh(arnOf("ec2", P, "security-group/sg-prod"))}, nil},
		{"delete production's DB in the primary region", "rds:DeleteDBInstance", []res{fresh(arnOf("rds", P, "db:wordpress-db"))}, nil},
		{"restore over production's DB name", "rds:RestoreDBInstanceFromDBSnapshot", []res{fresh(arnOf("rds", P, "db:billing-db")), tagged(arnOf("rds", P, "snapshot:wordpress-wordpress-db-1"))}, ctxTag()},
		{"mutate in a third region", "ec2:AuthorizeSecurityGroupIngress", []res{tagged(arnOf("ec2", "us-east-1", "security-group/sg-1"))}, nil},
		{"attach AdministratorAccess to AWS Backup's role", "iam:AttachRolePolicy", []res{fresh(role("service-role/AWSBackupDefaultServiceRole"))},
			map[string][]string{"iam:PolicyARN": {"arn:aws-cn:iam::aws:policy/AdministratorAccess"}}},
		{"create AWS Backup's role without the boundary", "iam:CreateRole", []res{fresh(role("service-role/AWSBackupDefaultServiceRole"))}, nil},
		{"lock another vault", "backup:PutBackupVaultLockConfiguration", []res{fresh(arnOf("backup", D, "backup-vault:Default"))}, nil},
		{"copy a recovery point to another vault", "backup:StartCopyJob", []res{tagged(arnOf("rds", P, "cluster-snapshot:awsbackup:job-1"))},
			map[string][]string{"backup:CopyTargets": {"arn:aws-cn:backup:cn-north-1:999999999999:backup-vault:exfil"}}},
		{"copy a recovery point naming no target", "backup:StartCopyJob", []res{tagged(arnOf("rds", P, "cluster-snapshot:awsbackup:job-1"))}, nil},
		{"delete another stack's recovery point", "backup:DeleteRecoveryPoint", []res{theirs(arnOf("rds", D, "cluster-snapshot:awsbackup:copyjob-1"))}, nil},
		{"delete an untagged recovery point", "backup:DeleteRecoveryPoint", []res{fresh(arnOf("backup", D, "recovery-point:1"))}, nil},
		{"back up into another vault", "backup:StartBackupJob", []res{fresh(arnOf("backup", P, "backup-vault:Default"))}, nil},
		{"pass the production role to AWS Backup", "iam:PassRole", []res{fresh(prodRole)}, map[string][]string{"iam:PassedToService": {"backup.amazonaws.com"}}},
		{"pass the backup role to Lambda", "iam:PassRole", []res{fresh(role("wordpress-backup"))}, map[string][]string{"iam:PassedToService": {"lambda.amazonaws.com"}}},
		{"rewrite another key's policy", "kms:PutKeyPolicy", []res{fresh(arnOf("kms", D, "key/9999"))}, map[string][]string{"kms:ResourceAliases": {"alias/billing"}}},
		{"rewrite a key's policy by the DR image key's alias in the primary", "kms:PutKeyPolicy", []res{fresh(arnOf("kms", P, "key/9999"))},
			map[string][]string{"kms:ResourceAliases": {"alias/dr-ami"}}},
		{"start a batch job that is no replication", "s3:CreateJob", []res{fresh("*")}, with(region(P), "s3:RequestJobOperation", "S3DeleteObjectTagging")},
		{"pass the replication role to a batch job", "iam:PassRole", []res{fresh(role("wordpress-s3-replication"))}, map[string][]string{"iam:PassedToService": {"batchoperations.s3.amazonaws.com"}}},
		{"pass the batch role to Lambda", "iam:PassRole", []res{fresh(role("wordpress-s3-batch-replication"))}, map[string][]string{"iam:PassedToService": {"lambda.amazonaws.com"}}},
		{"pass another role to a batch job", "iam:PassRole", []res{fresh(role("wordpress-s3-batch-replication-admin"))}, map[string][]string{"iam:PassedToService": {"batchoperations.s3.amazonaws.com"}}},
		{"restore a replica's archived objects", "s3:RestoreObject", []res{fresh("arn:aws-cn:s3:::wordpress-media-dr/a.jpg")}, nil},
		{"read another bucket's inventory", "s3:GetObject", []res{fresh("arn:aws-cn:s3:::wp-inventory/billing/all/data/0a1b.csv.gz")},
			map[string][]string{"s3:ResourceAccount": {acct}}},
		{"read an inventory in another account", "s3:GetObject", []res{fresh("arn:aws-cn:s3:::theirs/wordpress-media-prod/all/manifest.json")},
			map[string][]string{"s3:ResourceAccount": {"999999999999"}}},
		{"list another bucket's objects", "s3:ListBucket", []res{fresh("arn:aws-cn:s3:::billing")},
			map[string][]string{"s3:ResourceAccount": {acct}, "s3:prefix": {"invoices/"}}},
		{"set retention on another bucket's objects", "s3:PutObjectRetention", []res{fresh("arn:aws-cn:s3:::billing/a.csv")}, nil},
	}
	for _, c := range deny {
		if ok, _ := evaluate(t, all, c); ok {
			t.Errorf("--for all allows: %s", c)
		}
	}
}

// TestBoundaryCapsRoles: the boundary allows what each created role is
// given and nothing of IAM, so no role under it can escalate.
func TestBoundaryCapsRoles(t *testing.T) {
	cfg := coverageConfig(t)
	doc, err := BoundaryFor(cfg, acct)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range doc.Actions() {
		if strings.HasPrefix(a, "iam:") || strings.HasSuffix(a, ":*") || a == "*" {
			t.Errorf("the boundary allows %s", a)
		}
	}
	allow := []call{
		{"app secret", "ssm:GetParameter", []res{fresh("arn:aws-cn:ssm:*:*:parameter/wordpress/db-password")}, nil},
		{"app media", "s3:GetObject", []res{fresh("arn:aws-cn:s3:::wordpress-media-dr/a.jpg")}, nil},
		{"replication", "s3:ReplicateObject", []res{fresh("arn:aws-cn:s3:::wordpress-media-dr/a.jpg")}, nil},
		{"replication", "s3:GetObjectVersionForReplication", []res{fresh("arn:aws-cn:s3:::wordpress-media-prod/a.jpg")}, nil},
		{"batch replication", "s3:InitiateReplication", []res{fresh("arn:aws-cn:s3:::wordpress-media-prod/a.jpg")}, nil},
		{"batch manifest", "s3:PutInventoryConfiguration", []res{fresh("arn:aws-cn:s3:::wordpress-media-prod")}, nil},
		{"batch report", "s3:PutObject", []res{fresh("arn:aws-cn:s3:::wordpress-reports/pilotlight/batch-replication/job-1/manifest.json")},
			map[string][]string{"s3:ResourceAccount": {acct}}},
		{"lambda backup", "rds:CreateDBSnapshot", []res{tagged(arnOf("rds", P, "db:wordpress-db")), fresh(arnOf("rds", P, "snapshot:wordpress-wordpress-db-1"))}, ctxTag()},
		{"lambda logs", "logs:PutLogEvents", []res{fresh(arnOf("logs", D, "log-group:/aws/lambda/wordpress-pilotlight:log-stream:x"))}, nil},
		{"scheduler", "lambda:InvokeFunction", []res{fresh(arnOf("lambda", D, "function:wordpress-pilotlight"))}, nil},
	}
	for _, c := range allow {
		if ok, why := evaluate(t, doc, c); !ok {
			t.Errorf("the boundary denies %s: %s", c, why)
		}
	}
	for _, c := range []call{
		{"escalate", "iam:CreateRole", []res{fresh(role("x"))}, nil},
		{"escalate", "iam:PassRole", []res{fresh(role("wordpress-prod-app"))}, nil},
		{"other secrets", "ssm:GetParameter", []res{fresh("arn:aws-cn:ssm:*:*:parameter/billing/db-password")}, nil},
		{"other buckets", "s3:GetObject", []res{fresh("arn:aws-cn:s3:::billing/a.csv")}, nil},
		{"batch report elsewhere", "s3:PutObject", []res{fresh("arn:aws-cn:s3:::billing/a.csv")}, map[string][]string{"s3:ResourceAccount": {acct}}},
		{"batch report to another account", "s3:PutObject", []res{fresh("arn:aws-cn:s3:::exfil/pilotlight/batch-replication/x")},
			map[string][]string{"s3:ResourceAccount": {"999999999999"}}},
	} {
		if ok, _ := evaluate(t, doc, c); ok {
			t.Errorf("the boundary allows %s", c)
		}
	}
	arn, err := BoundaryARN(D, acct, stack)
	if err != nil || arn != boundary() {
		t.Fatalf("BoundaryARN = %q, %v", arn, err)
	}
}

// CoveredByEvaluator reports whether TestEveryOwnCallIsAllowed evaluates
// action for verb with its resources: a call in ownCalls, or a read that
// doc grants on "*" (checked there by region). The recorded-call test
// uses it so that every action a verb really calls is evaluated here.
func CoveredByEvaluator(doc *Document, verb, action string) bool {
	for _, c := range ownCalls()[verb] {
		if Match(c.action, action) {
			return true
		}
	}
	for _, s := range doc.Statement {
		if s.Effect == "Allow" && len(s.Resource) == 1 && s.Resource[0] == "*" && anyMatch(s.Action, action, false) {
			return true
		}
	}
	return false
}

// TestDeployCannotMoveThePin: deploy's alarms share the failover pin's
// prefix; the deploy policy must not let a deploy delete or rewrite the
// pin (a deploy while failed over would send traffic back to a primary
// that is down).
func TestDeployCannotMoveThePin(t *testing.T) {
	_, docs := policyConfig(t)
	pin := tagged(arnOf("cloudwatch", D, "alarm:pilotlight-wordpress-failed-over"))
	for _, a := range []string{"cloudwatch:DeleteAlarms", "cloudwatch:PutMetricAlarm"} {
		if ok, _ := evaluate(t, docs[Deploy], call{"deploy", a, []res{pin}, ctxTag()}); ok {
			t.Errorf("--for deploy allows %s on the failover pin", a)
		}
	}
	if ok, why := evaluate(t, docs[Failover], call{"failback", "cloudwatch:SetAlarmState", []res{pin}, nil}); !ok {
		t.Errorf("--for failover cannot move the pin: %s", why)
	}
}

// TestRetireOnlyTheStacksOwn: `teardown --kind old-primary` runs with the
// failover policy; it may terminate and delete what the stack tagged (an
// earlier failback's production), never a production nobody tagged, such
// as the hand-built one a first failback replaced.
func TestRetireOnlyTheStacksOwn(t *testing.T) {
	_, docs := policyConfig(t)
	for _, c := range []call{
		{"hand-built instance", "ec2:TerminateInstances", []res{fresh(arnOf("ec2", P, "instance/i-0fedcba9876543210"))}, nil},
		{"hand-built database", "rds:DeleteDBInstance", []res{fresh(arnOf("rds", P, "db:wordpress-db"))}, nil},
		{"hand-built load balancer", "elasticloadbalancing:DeleteLoadBalancer", []res{fresh(arnOf("elasticloadbalancing", P, "loadbalancer/app/prod-lb/1"))}, nil},
		{"the user's own snapshot", "rds:DeleteDBSnapshot", []res{fresh(arnOf("rds", P, "snapshot:wordpress-before-upgrade"))}, nil},
	} {
		if ok, _ := evaluate(t, docs[Failover], c); ok {
			t.Errorf("--for failover allows %s", c)
		}
	}
	if ok, why := evaluate(t, docs[Failover], call{"retire", "ec2:TerminateInstances", []res{tagged(arnOf("ec2", P, "instance/i-0fedcba9876543210"))}, nil}); !ok {
		t.Errorf("--for failover cannot terminate the stack's instance: %s", why)
	}
}

// TestFailoverKeepsRecoveryPoints: the failover plane may delete the
// snapshots a failback tagged as its own, and no recovery point protect
// made: a stolen failover role cannot empty the DR region of backups.
func TestFailoverKeepsRecoveryPoints(t *testing.T) {
	_, docs := policyConfig(t)
	doc, ok := docs["failover"]
	if !ok {
		t.Fatal("no failover policy")
	}
	for _, c := range []call{
		{"delete a DR recovery point", "rds:DeleteDBSnapshot", []res{tagged(arnOf("rds", D, "snapshot:wordpress-wordpress-db-20261207031738"))}, nil},
		{"delete a DR cluster recovery point", "rds:DeleteDBClusterSnapshot", []res{tagged(arnOf("rds", D, "cluster-snapshot:wordpress-wordpress-aurora-1"))}, nil},
		{"delete a failover's snapshot", "rds:DeleteDBSnapshot", []res{{arn: arnOf("rds", D, "snapshot:wordpress-db-dr-final-1"), tags: map[string]string{"pilotlight:stack": stack, "pilotlight:op-kind": "failover"}}}, nil},
	} {
		if ok, _ := evaluate(t, doc, c); ok {
			t.Errorf("--for failover allows: %s", c)
		}
	}
}
