package s3sync

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"

	"github.com/pilotlight/pilotlight/internal/partition"
)

// s3Principal is the service principal S3 replication assumes a role as.
// It is s3.amazonaws.com in every partition, China included (the aws-cn
// S3 user guide's replication trust policy uses it), unlike EC2's
// ec2.amazonaws.com.cn, so partition.ServicePrincipal does not apply.
const s3Principal = "s3.amazonaws.com"

type policyDoc struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Principal map[string]string         `json:"Principal,omitempty"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

func (d policyDoc) String() string {
	b, _ := json.Marshal(d)
	return string(b)
}

// trustPolicy lets S3 assume the replication role.
func trustPolicy() string {
	return policyDoc{Version: "2012-10-17", Statement: []statement{{
		Effect: "Allow", Principal: map[string]string{"Service": s3Principal}, Action: []string{"sts:AssumeRole"},
	}}}.String()
}

// policyInput is what the replication role's permissions depend on.
type policyInput struct {
	Source, Replica             string
	SourceRegion, ReplicaRegion string
	DeleteMarkers               bool
	// SourceKMS: source objects are SSE-KMS; SourceKeyARN is their key, ""
	// when it is the AWS managed key whose ARN is not known up front.
	SourceKMS     bool
	SourceKeyARN  string
	ReplicaKeyARN string
}

// replicationPolicy is the least privilege S3 needs to replicate Source to
// Replica: read the rule and versions on the source, write replicas (and
// delete markers only when they are replicated), and use the KMS keys only
// through S3 in the right region for these buckets' objects.
func replicationPolicy(p partition.Partition, in policyInput) string {
	bucket := func(b string) string { return p.ARN("s3", "", "", b) }
	objects := func(b string) string { return p.ARN("s3", "", "", b+"/*") }
	write := []string{"s3:ReplicateObject", "s3:ReplicateTags"}
	if in.DeleteMarkers {
		write = append(write, "s3:ReplicateDelete")
	}
	doc := policyDoc{Version: "2012-10-17", Statement: []statement{
		{Sid: "SourceBucket", Effect: "Allow", Action: []string{"s3:GetReplicationConfiguration", "s3:ListBucket"},
			Resource: []string{bucket(in.Source)}},
		{Sid: "SourceObjects", Effect: "Allow",
			Action:   []string{"s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"},
			Resource: []string{objects(in.Source)}},
		{Sid: "ReplicaObjects", Effect: "Allow", Action: write, Resource: []string{objects(in.Replica)}},
	}}
	// With S3 Bucket Keys the encryption context S3 gives KMS is the bucket's
	// ARN, without them the object's: either may be on, on either bucket, and
	// may be switched at any time, so both are allowed, as AWS's guide for
	// replicating encrypted objects says. An object-only condition fails
	// every SSE-KMS replication once Bucket Keys are on.
	encryptionContexts := func(b string) []string { return []string{bucket(b), objects(b)} }
	if in.SourceKMS {
		key := in.SourceKeyARN
		if key == "" {
			key = p.ARN("kms", in.SourceRegion, "*", "key/*")
		}
		doc.Statement = append(doc.Statement, statement{Sid: "DecryptSource", Effect: "Allow",
			Action: []string{"kms:Decrypt"}, Resource: []string{key},
			Condition: map[string]map[string]any{"StringLike": {
				"kms:ViaService":                   "s3." + in.SourceRegion + "." + p.DNSSuffix,
				"kms:EncryptionContext:aws:s3:arn": encryptionContexts(in.Source),
			}}})
	}
	if in.ReplicaKeyARN != "" {
		doc.Statement = append(doc.Statement, statement{Sid: "EncryptReplica", Effect: "Allow",
			Action: []string{"kms:Encrypt", "kms:GenerateDataKey"}, Resource: []string{in.ReplicaKeyARN},
			Condition: map[string]map[string]any{"StringLike": {
				"kms:ViaService":                   "s3." + in.ReplicaRegion + "." + p.DNSSuffix,
				"kms:EncryptionContext:aws:s3:arn": encryptionContexts(in.Replica),
			}}})
	}
	return doc.String()
}

// samePolicy compares two policy documents as JSON values. IAM hands
// documents back URL-encoded; either side may be.
func samePolicy(a, b string) bool {
	var x, y any
	if err := json.Unmarshal([]byte(decodePolicy(a)), &x); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(decodePolicy(b)), &y); err != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func decodePolicy(s string) string {
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		return s
	}
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}
