package partition

import "testing"

func TestOfAndHomes(t *testing.T) {
	cases := []struct {
		region, part, iam, r53 string
	}{
		{"cn-north-1", "aws-cn", "cn-north-1", "cn-northwest-1"},
		{"cn-northwest-1", "aws-cn", "cn-north-1", "cn-northwest-1"},
		{"us-west-2", "aws", "us-east-1", "us-east-1"},
		{"us-gov-east-1", "aws-us-gov", "us-gov-west-1", "us-gov-west-1"},
	}
	for _, c := range cases {
		p, err := Of(c.region)
		if err != nil {
			t.Fatal(err)
		}
		if p.ID != c.part || HomeOf("iam", c.region) != c.iam || HomeOf("route53", c.region) != c.r53 {
			t.Errorf("%s: got %s iam=%s r53=%s", c.region, p.ID, HomeOf("iam", c.region), HomeOf("route53", c.region))
		}
		if HomeOf("rds", c.region) != c.region {
			t.Errorf("%s: rds is regional", c.region)
		}
	}
	if _, err := Of("moon-1"); err == nil {
		t.Fatal("unknown region accepted")
	}
	if SamePartition("cn-north-1", "us-east-1") || !SamePartition("cn-north-1", "cn-northwest-1") {
		t.Fatal("SamePartition wrong")
	}
}

func TestARNAndPrincipal(t *testing.T) {
	p, _ := Of("cn-north-1")
	if got := p.ARN("rds", "cn-north-1", "123456789012", "snapshot:x"); got != "arn:aws-cn:rds:cn-north-1:123456789012:snapshot:x" {
		t.Fatal(got)
	}
	if got := p.ServicePrincipal("ec2"); got != "ec2.amazonaws.com.cn" {
		t.Fatal(got)
	}
	part, svc, region, acct, res, ok := ParseARN("arn:aws-cn:kms:cn-north-1:1:key/abc")
	if !ok || part != "aws-cn" || svc != "kms" || region != "cn-north-1" || acct != "1" || res != "key/abc" {
		t.Fatal("ParseARN")
	}
}
