package testenv

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestAwsenvReachesMotoWithChinaARN(t *testing.T) {
	moto := Shared(t)
	acct := moto.NewAccount(t)
	env := AWS(t, acct.URL)
	ctx := context.Background()
	out, err := rds.NewFromConfig(env.For("cn-north-1")).CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{
		DBInstanceIdentifier: aws.String("missing-db"), DBSnapshotIdentifier: aws.String("s1"),
	})
	if err == nil || !strings.Contains(err.Error(), "DBInstanceNotFound") {
		t.Fatalf("want moto's DBInstanceNotFound, got %v %v", out, err)
	}
	arn, err := env.ARN(ctx, "rds", "cn-north-1", "db:wordpress-db")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(arn, "arn:aws-cn:rds:cn-north-1:"+acct.ID+":") {
		t.Fatalf("arn %s", arn)
	}
	id, err := sts.NewFromConfig(env.For("cn-north-1")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !strings.HasPrefix(aws.ToString(id.Arn), "arn:aws-cn:") {
		t.Fatalf("sts: %v %v", id, err)
	}
}

func TestAccountsAreIsolated(t *testing.T) {
	moto := Shared(t)
	a, b := AWS(t, moto.NewAccount(t).URL), AWS(t, moto.NewAccount(t).URL)
	ctx := context.Background()
	s3a := s3.NewFromConfig(a.For("us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	s3b := s3.NewFromConfig(b.For("us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("iso-a-bucket")}); err != nil {
		t.Fatal(err)
	}
	la, _ := s3a.ListBuckets(ctx, &s3.ListBucketsInput{})
	lb, _ := s3b.ListBuckets(ctx, &s3.ListBucketsInput{})
	if len(la.Buckets) != 1 || len(lb.Buckets) != 0 {
		t.Fatalf("not isolated: a=%d b=%d", len(la.Buckets), len(lb.Buckets))
	}
}

func TestDeadRegionFailsOnlyThatRegion(t *testing.T) {
	moto := Shared(t)
	p, err := NewProxy(moto.NewAccount(t).URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	env := AWS(t, p.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p.KillRegion("cn-northwest-1")

	for i := 0; i < 3; i++ {
		if _, err := rds.NewFromConfig(env.For("cn-northwest-1")).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{}); err == nil {
			t.Fatal("call to dead region succeeded")
		}
	}
	if _, err := rds.NewFromConfig(env.For("cn-north-1")).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{}); err != nil {
		t.Fatalf("live region failed: %v", err)
	}
	// Route 53's control plane lives in cn-northwest-1: a client in the
	// live region cannot reach it either. IAM's lives in cn-north-1: it works.
	if _, err := route53.NewFromConfig(env.For("cn-north-1")).ListHostedZones(ctx, &route53.ListHostedZonesInput{}); err == nil {
		t.Fatal("route53 reachable while its home region is dead")
	}
	if _, err := iam.NewFromConfig(env.For("cn-northwest-1")).ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
		t.Fatalf("iam (home cn-north-1) failed: %v", err)
	}
	dead := p.CallsTo(Match{Region: "cn-northwest-1"})
	if len(dead) == 0 {
		t.Fatal("no calls recorded to the dead region")
	}
	for _, c := range dead {
		if c.Fault != "dead" {
			t.Fatalf("call to dead region got through: %+v", c)
		}
	}
	if got := p.CallsTo(Match{Service: "route53"}); len(got) == 0 || got[0].Region != "cn-northwest-1" || got[0].Action != "ListHostedZones" {
		t.Fatalf("route53 call mapped wrong: %+v", got)
	}
	p.ReviveRegion("cn-northwest-1")
	if _, err := rds.NewFromConfig(env.For("cn-northwest-1")).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{}); err != nil {
		t.Fatalf("revived region failed: %v", err)
	}
}

func TestThrottleIsRetriedAndRecorded(t *testing.T) {
	moto := Shared(t)
	p, err := NewProxy(moto.NewAccount(t).URL, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.AddRule(Rule{Match: Match{Service: "rds", Action: "DescribeDBInstances"}, Throttle: 0.5})
	env := AWS(t, p.URL)
	ctx := context.Background()
	ok := 0
	for i := 0; i < 10; i++ {
		if _, err := rds.NewFromConfig(env.For("us-east-1")).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{}); err == nil {
			ok++
		}
	}
	throttled := 0
	for _, c := range p.Calls() {
		if c.Fault == "throttle" {
			throttled++
		}
		if c.Action != "DescribeDBInstances" {
			t.Fatalf("action %q", c.Action)
		}
	}
	if throttled == 0 || ok < 8 {
		t.Fatalf("throttled=%d ok=%d: retries should absorb most throttling", throttled, ok)
	}
}

func TestHoldTrapsFirstMatchingCall(t *testing.T) {
	moto := Shared(t)
	p, err := NewProxy(moto.NewAccount(t).URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	env := AWS(t, p.URL)
	h := p.HoldFirst(Match{Service: "rds", Action: "DescribeDBSnapshots"})
	done := make(chan error, 1)
	go func() {
		_, err := rds.NewFromConfig(env.For("us-east-1")).DescribeDBSnapshots(context.Background(), &rds.DescribeDBSnapshotsInput{})
		done <- err
	}()
	select {
	case <-h.Reached():
	case <-time.After(10 * time.Second):
		t.Fatal("hold not reached")
	}
	select {
	case <-done:
		t.Fatal("held call returned before release")
	default:
	}
	h.Release()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
