package emulator

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// motoImageGB is the size of the one synthetic snapshot moto gives every
// AMI (MOTO.md): the clock sizes image work by it.
const motoImageGB = 15

// EC2, IAM propagation, Auto Scaling, ELB and ElastiCache on AWS's clock.
func registerEC2() {
	on("ec2", "CreateImage", hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		k.start(c.Region, "image", field(body, "imageId"), k.d.Image.For(motoImageGB), 0)
		return body
	}})
	on("ec2", "CopyImage", hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		k.start(c.Region, "image", field(body, "imageId"), k.d.ImageCopy.For(motoImageGB), k.d.ImageCopyInvisible)
		return body
	}})
	on("ec2", "DescribeImages", hook{
		before: func(k *Clock, c Call, form url.Values) *answer {
			for _, id := range listed(form, "ImageId") {
				if k.invisible(c.Region, "image", id) {
					return &answer{status: 400, code: "InvalidAMIID.NotFound", msg: fmt.Sprintf("The image id '[%s]' does not exist", id)}
				}
			}
			return nil
		},
		after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
			return rewriteIn(body, "imagesSet", "item", func(e []byte) []byte {
				id := field(e, "imageId")
				if k.invisible(c.Region, "image", id) {
					return nil
				}
				if _, busy := k.progress(c.Region, "image", id); busy {
					return setField(e, "imageState", "pending")
				}
				return e
			})
		},
	})

	pending := func(kind string) func(k *Clock, region string) func([]byte) []byte {
		return func(k *Clock, region string) func([]byte) []byte {
			return func(e []byte) []byte {
				if _, busy := k.progress(region, kind, field(e, "instanceId")); busy {
					return setField(e, "instanceState", "<code>0</code><name>pending</name>")
				}
				return e
			}
		}
	}
	on("ec2", "RunInstances", hook{
		before: func(k *Clock, _ Call, form url.Values) *answer {
			return k.refuseYoungProfile(form, "", "InvalidParameterValue")
		},
		after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
			body = rewriteIn(body, "instancesSet", "item", func(e []byte) []byte {
				k.start(c.Region, "instance", field(e, "instanceId"), k.d.InstanceBoot, 0)
				return e
			})
			return rewriteIn(body, "instancesSet", "item", pending("instance")(k, c.Region))
		},
	})
	on("ec2", "DescribeInstances", hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		return rewriteIn(body, "instancesSet", "item", pending("instance")(k, c.Region))
	}})

	nat := func(k *Clock, region string) func([]byte) []byte {
		return func(e []byte) []byte {
			if _, busy := k.progress(region, "nat", field(e, "natGatewayId")); busy {
				return setField(e, "state", "pending")
			}
			return e
		}
	}
	on("ec2", "CreateNatGateway", hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		k.start(c.Region, "nat", field(first(body, "natGateway"), "natGatewayId"), k.d.NatGateway, 0)
		return rewrite(body, "natGateway", nat(k, c.Region))
	}})
	on("ec2", "DescribeNatGateways", hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		return rewriteIn(body, "natGatewaySet", "item", nat(k, c.Region))
	}})

	// IAM: what EC2 and Auto Scaling see lags what IAM answered.
	profileChanged := func(k *Clock, _ Call, form url.Values, body []byte) []byte {
		k.mu.Lock()
		k.profiles[form.Get("InstanceProfileName")] = k.now()
		k.mu.Unlock()
		return body
	}
	on("iam", "CreateInstanceProfile", hook{after: profileChanged})
	on("iam", "AddRoleToInstanceProfile", hook{after: profileChanged})
	on("ec2", "CreateLaunchTemplate", hook{after: func(k *Clock, _ Call, form url.Values, body []byte) []byte {
		profile := form.Get("LaunchTemplateData.IamInstanceProfile.Name")
		if arn := form.Get("LaunchTemplateData.IamInstanceProfile.Arn"); profile == "" && arn != "" {
			profile = arn[strings.LastIndex(arn, "/")+1:]
		}
		if profile != "" {
			k.mu.Lock()
			k.templates[form.Get("LaunchTemplateName")] = profile
			k.templates[field(first(body, "launchTemplate"), "launchTemplateId")] = profile
			k.mu.Unlock()
		}
		return body
	}})
	on("autoscaling", "CreateAutoScalingGroup", hook{
		before: func(k *Clock, _ Call, form url.Values) *answer {
			return k.refuseYoungProfile(form, "You must use a valid fully-formed launch template. ", "ValidationError")
		},
		after: func(k *Clock, c Call, form url.Values, body []byte) []byte {
			k.start(c.Region, "asg", form.Get("AutoScalingGroupName"), k.d.InstanceBoot, 0)
			k.mu.Lock()
			for _, tg := range listed(form, "TargetGroupARNs.member") {
				k.groups[tg] = k.now()
			}
			k.mu.Unlock()
			return body
		},
	})
	on("autoscaling", "DescribeAutoScalingGroups", hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		return rewriteIn(body, "AutoScalingGroups", "member", func(g []byte) []byte {
			if _, busy := k.progress(c.Region, "asg", field(g, "AutoScalingGroupName")); !busy {
				return g
			}
			return rewriteIn(g, "Instances", "member", func(i []byte) []byte {
				return setField(i, "LifecycleState", "Pending")
			})
		})
	}})

	lb := func(k *Clock, region string, create bool) func([]byte) []byte {
		return func(e []byte) []byte {
			arn := field(e, "LoadBalancerArn")
			if create {
				k.start(region, "lb", arn, k.d.LoadBalancer, 0)
			}
			if _, busy := k.progress(region, "lb", arn); busy {
				return setField(e, "State", "<Code>provisioning</Code>")
			}
			return e
		}
	}
	on("elasticloadbalancing", "CreateLoadBalancer", hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		return rewriteIn(body, "LoadBalancers", "member", lb(k, c.Region, true))
	}})
	on("elasticloadbalancing", "DescribeLoadBalancers", hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		return rewriteIn(body, "LoadBalancers", "member", lb(k, c.Region, false))
	}})
	on("elasticloadbalancing", "CreateTargetGroup", hook{after: func(k *Clock, _ Call, _ url.Values, body []byte) []byte {
		tg := first(first(body, "TargetGroups"), "member")
		// ALB defaults (ELB User Guide, target group health checks).
		check := tgCheck{interval: albCheckInterval, threshold: albHealthyChecks}
		if s, err := strconv.Atoi(field(tg, "HealthCheckIntervalSeconds")); err == nil && s > 0 {
			check.interval = time.Duration(s) * time.Second
		}
		if n, err := strconv.Atoi(field(tg, "HealthyThresholdCount")); err == nil && n > 0 {
			check.threshold = n
		}
		k.mu.Lock()
		k.checks[field(tg, "TargetGroupArn")] = check
		k.mu.Unlock()
		return body
	}})
	on("elasticloadbalancing", "RegisterTargets", hook{after: func(k *Clock, _ Call, form url.Values, body []byte) []byte {
		k.mu.Lock()
		k.groups[form.Get("TargetGroupArn")] = k.now()
		k.mu.Unlock()
		return body
	}})
	on("elasticloadbalancing", "DescribeTargetHealth", hook{after: func(k *Clock, _ Call, form url.Values, body []byte) []byte {
		tg := form.Get("TargetGroupArn")
		k.mu.Lock()
		since, seen := k.groups[tg]
		check, ok := k.checks[tg]
		now := k.now()
		k.mu.Unlock()
		if !ok {
			check = tgCheck{interval: albCheckInterval, threshold: albHealthyChecks}
		}
		// A target is `initial` until its instance has booted and passed
		// HealthyThresholdCount checks, one every HealthCheckInterval.
		if !seen || now-since >= k.d.InstanceBoot+check.interval*time.Duration(check.threshold) {
			return body
		}
		return rewriteIn(body, "TargetHealthDescriptions", "member", func(e []byte) []byte {
			return setField(e, "TargetHealth", "<State>initial</State><Reason>Elb.InitialHealthChecking</Reason><Description>Initial health checks in progress</Description>")
		})
	}})

	cache := func(k *Clock, region, el, idTag, statusTag string, create bool) func([]byte) []byte {
		return func(e []byte) []byte {
			id := field(e, idTag)
			if create {
				k.start(region, "cache", id, k.d.CacheCluster, 0)
			}
			if _, busy := k.progress(region, "cache", id); busy {
				return setField(e, statusTag, "creating")
			}
			return e
		}
	}
	for _, a := range []struct{ create, describe, el, id, status string }{
		{"CreateReplicationGroup", "DescribeReplicationGroups", "ReplicationGroup", "ReplicationGroupId", "Status"},
		{"CreateCacheCluster", "DescribeCacheClusters", "CacheCluster", "CacheClusterId", "CacheClusterStatus"},
	} {
		on("elasticache", a.create, hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
			return rewrite(body, a.el, cache(k, c.Region, a.el, a.id, a.status, true))
		}})
		on("elasticache", a.describe, hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
			return rewrite(body, a.el, cache(k, c.Region, a.el, a.id, a.status, false))
		}})
	}
}

// refuseYoungProfile answers as EC2 (RunInstances) or Auto Scaling
// (CreateAutoScalingGroup, with its launch-template prefix) do when the
// instance profile is younger than IAM's propagation.
func (k *Clock) refuseYoungProfile(form url.Values, prefix, code string) *answer {
	name, param, what := form.Get("IamInstanceProfile.Name"), "name", "name"
	if arn := form.Get("IamInstanceProfile.Arn"); name == "" && arn != "" {
		name, param, what = arn, "arn", "ARN"
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if name == "" {
		for _, t := range []string{form.Get("LaunchTemplate.LaunchTemplateName"), form.Get("LaunchTemplate.LaunchTemplateId")} {
			if p, ok := k.templates[t]; ok && t != "" {
				name = p
				break
			}
		}
	}
	profile := name[strings.LastIndex(name, "/")+1:]
	made, ok := k.profiles[profile]
	if !ok || k.now()-made >= k.d.IAMPropagation {
		return nil
	}
	return &answer{status: 400, code: code, msg: fmt.Sprintf("%sValue (%s) for parameter iamInstanceProfile.%s is invalid. Invalid IAM Instance Profile %s", prefix, name, param, what)}
}
