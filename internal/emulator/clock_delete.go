package emulator

import (
	"bytes"
	"fmt"
	"net/url"
)

// Deletions on AWS's clock. moto drops a DB instance at once and marks a
// NAT gateway `deleted` at once; AWS shows them `deleting` for minutes, and
// until they are gone what they use (the DB subnet group, the subnet, the
// Elastic IP) cannot be deleted.
func registerDeletes() {
	on("rds", "DeleteDBInstance", hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		el := setField(first(body, "DBInstance"), "DBInstanceStatus", "deleting")
		id := field(el, "DBInstanceIdentifier")
		k.start(c.Region, "db-delete", id, k.d.DBInstanceDelete, 0)
		k.mu.Lock()
		k.gone[jobKey{c.Region, "db-delete", id}] = el
		k.mu.Unlock()
		return rewrite(body, "DBInstance", func([]byte) []byte { return el })
	}})
	describe := hooks["rds/DescribeDBInstances"]
	describe.after = func(k *Clock, c Call, form url.Values, body []byte) []byte {
		body = k.rdsInstances(c, body)
		if form.Get("DBInstanceIdentifier") != "" || len(listed(form, "Filters")) > 0 {
			return body
		}
		var extra []byte
		for _, el := range k.deleting(c.Region, "") {
			extra = append(extra, el...)
		}
		if len(extra) == 0 {
			return body
		}
		if bytes.Contains(body, []byte("<DBInstances/>")) {
			return bytes.Replace(body, []byte("<DBInstances/>"), append(append([]byte("<DBInstances>"), extra...), "</DBInstances>"...), 1)
		}
		return bytes.Replace(body, []byte("</DBInstances>"), append(extra, "</DBInstances>"...), 1)
	}
	describe.failed = func(k *Clock, c Call, form url.Values, status int, body []byte) (int, []byte) {
		id := form.Get("DBInstanceIdentifier")
		els := k.deleting(c.Region, id)
		if id == "" || len(els) == 0 {
			return status, body
		}
		return 200, []byte(`<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult><DBInstances>` +
			string(els[0]) + `</DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>clock</RequestId></ResponseMetadata></DescribeDBInstancesResponse>`)
	}
	hooks["rds/DescribeDBInstances"] = describe
	on("rds", "DeleteDBSubnetGroup", hook{before: func(k *Clock, c Call, form url.Values) *answer {
		name := form.Get("DBSubnetGroupName")
		for _, el := range k.deleting(c.Region, "") {
			if field(first(el, "DBSubnetGroup"), "DBSubnetGroupName") == name {
				return &answer{status: 400, code: "InvalidDBSubnetGroupStateFault", msg: fmt.Sprintf(
					"Cannot delete the subnet group '%s' because at least one database instance: %s is still using it.", name, field(el, "DBInstanceIdentifier"))}
			}
		}
		return nil
	}})

	create := hooks["ec2/CreateNatGateway"]
	createAfter := create.after
	create.after = func(k *Clock, c Call, form url.Values, body []byte) []byte {
		k.mu.Lock()
		k.natUses[field(first(body, "natGateway"), "natGatewayId")] = [2]string{form.Get("SubnetId"), form.Get("AllocationId")}
		k.mu.Unlock()
		return createAfter(k, c, form, body)
	}
	hooks["ec2/CreateNatGateway"] = create
	on("ec2", "DeleteNatGateway", hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		k.start(c.Region, "nat-delete", field(body, "natGatewayId"), k.d.NatGatewayDelete, 0)
		return body
	}})
	natDescribe := hooks["ec2/DescribeNatGateways"]
	natAfter := natDescribe.after
	natDescribe.after = func(k *Clock, c Call, form url.Values, body []byte) []byte {
		body = rewriteIn(body, "natGatewaySet", "item", func(e []byte) []byte {
			if _, busy := k.progress(c.Region, "nat-delete", field(e, "natGatewayId")); busy {
				return setField(e, "state", "deleting")
			}
			return e
		})
		return natAfter(k, c, form, body)
	}
	hooks["ec2/DescribeNatGateways"] = natDescribe
	inUse := func(which int, param, code, msg string) func(*Clock, Call, url.Values) *answer {
		return func(k *Clock, c Call, form url.Values) *answer {
			v := form.Get(param)
			k.mu.Lock()
			uses := make(map[string][2]string, len(k.natUses))
			for id, u := range k.natUses {
				uses[id] = u
			}
			k.mu.Unlock()
			for id, u := range uses {
				if _, busy := k.progress(c.Region, "nat-delete", id); busy && u[which] == v {
					return &answer{status: 400, code: code, msg: fmt.Sprintf(msg, v)}
				}
			}
			return nil
		}
	}
	on("ec2", "DeleteSubnet", hook{before: inUse(0, "SubnetId", "DependencyViolation", "The subnet '%s' has dependencies and cannot be deleted.")})
	// AWS's answer really is AuthFailure (kops #938, terraform reports).
	on("ec2", "ReleaseAddress", hook{before: inUse(1, "AllocationId", "AuthFailure", "You do not have permission to access the specified resource (%s).")})
}

// deleting returns the elements of DB instances still being deleted in
// region (only id's, if id is set).
func (k *Clock) deleting(region, id string) [][]byte {
	k.mu.Lock()
	var keys []jobKey
	for key := range k.gone {
		if key.region == region && (id == "" || key.id == id) {
			keys = append(keys, key)
		}
	}
	k.mu.Unlock()
	var out [][]byte
	for _, key := range keys {
		if _, busy := k.progress(key.region, key.kind, key.id); busy {
			k.mu.Lock()
			out = append(out, k.gone[key])
			k.mu.Unlock()
		}
	}
	return out
}
