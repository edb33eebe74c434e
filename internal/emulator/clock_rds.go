package emulator

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/pilotlight/pilotlight/internal/partition"
)

// RDS on AWS's clock: snapshots are `creating` with PercentProgress rising,
// copies `pending` then `copying`, restored instances and clusters
// `creating` (no endpoint yet) then, for instances, `backing-up`.
func registerRDS() {
	snapshot := func(kind, idTag string, sized func(k *Clock, src, region string) Sized) func(*Clock, Call, url.Values, []byte) []byte {
		return func(k *Clock, c Call, form url.Values, body []byte) []byte {
			el := first(body, strings.TrimSuffix(idTag, "Identifier"))
			id, gb := field(el, idTag), atoi(field(el, "AllocatedStorage"))
			src := form.Get("SourceDBSnapshotIdentifier") + form.Get("SourceDBClusterSnapshotIdentifier")
			k.start(c.Region, kind, id, sized(k, src, c.Region).For(gb), 0)
			return k.rdsSnapshots(c, body, idTag)
		}
	}
	copyRate := func(cross, local func(Durations) Sized) func(*Clock, string, string) Sized {
		return func(k *Clock, src, region string) Sized {
			if _, _, r, _, _, ok := partition.ParseARN(src); ok && r != region {
				return cross(k.d)
			}
			return local(k.d)
		}
	}
	inRegion := func(d Durations) Sized { return d.InRegionCopy }
	// AWS refuses to copy or restore from a snapshot that is not yet
	// `available` (RDS API Reference: InvalidDBSnapshotState,
	// InvalidDBClusterSnapshotStateFault).
	notReady := func(param, code string, kinds ...string) func(*Clock, Call, url.Values) *answer {
		return func(k *Clock, c Call, form url.Values) *answer {
			src, region := form.Get(param), c.Region
			if _, _, r, _, res, ok := partition.ParseARN(src); ok {
				region, src = r, res[strings.LastIndex(res, ":")+1:]
			}
			for _, kind := range kinds {
				if _, busy := k.progress(region, kind, src); busy {
					return &answer{status: 400, code: code, msg: fmt.Sprintf("Snapshot %s is not in available state", src)}
				}
			}
			return nil
		}
	}
	dbNotReady := func(param string) func(*Clock, Call, url.Values) *answer {
		return notReady(param, "InvalidDBSnapshotState", "db-snapshot", "db-snapshot-copy")
	}
	clusterNotReady := func(param string) func(*Clock, Call, url.Values) *answer {
		return notReady(param, "InvalidDBClusterSnapshotStateFault", "cluster-snapshot", "cluster-snapshot-copy")
	}
	on("rds", "CreateDBSnapshot", hook{after: snapshot("db-snapshot", "DBSnapshotIdentifier",
		func(k *Clock, _, _ string) Sized { return k.d.DBSnapshot })})
	on("rds", "CopyDBSnapshot", hook{before: dbNotReady("SourceDBSnapshotIdentifier"), after: snapshot("db-snapshot-copy", "DBSnapshotIdentifier",
		copyRate(func(d Durations) Sized { return d.DBSnapshotCopy }, inRegion))})
	on("rds", "CreateDBClusterSnapshot", hook{after: snapshot("cluster-snapshot", "DBClusterSnapshotIdentifier",
		func(k *Clock, _, _ string) Sized { return k.d.ClusterSnapshot })})
	on("rds", "CopyDBClusterSnapshot", hook{before: clusterNotReady("SourceDBClusterSnapshotIdentifier"), after: snapshot("cluster-snapshot-copy", "DBClusterSnapshotIdentifier",
		copyRate(func(d Durations) Sized { return d.ClusterSnapshotCopy }, inRegion))})
	on("rds", "DescribeDBSnapshots", hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		return k.rdsSnapshots(c, body, "DBSnapshotIdentifier")
	}})
	on("rds", "DescribeDBClusterSnapshots", hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		return k.rdsSnapshots(c, body, "DBClusterSnapshotIdentifier")
	}})

	instance := func(sized func(Durations) Sized) func(*Clock, Call, url.Values, []byte) []byte {
		return func(k *Clock, c Call, _ url.Values, body []byte) []byte {
			el := first(body, "DBInstance")
			id, gb := field(el, "DBInstanceIdentifier"), atoi(field(el, "AllocatedStorage"))
			k.start(c.Region, "db-instance", id, sized(k.d).For(gb), 0)
			return k.rdsInstances(c, body)
		}
	}
	on("rds", "RestoreDBInstanceFromDBSnapshot", hook{before: dbNotReady("DBSnapshotIdentifier"), after: instance(func(d Durations) Sized { return d.DBRestore })})
	on("rds", "RestoreDBInstanceToPointInTime", hook{after: instance(func(d Durations) Sized { return d.DBRestore })})
	on("rds", "CreateDBInstance", hook{after: instance(func(d Durations) Sized { return d.DBInstanceCreate })})
	on("rds", "CreateDBInstanceReadReplica", hook{after: instance(func(d Durations) Sized { return d.DBRestore })})
	on("rds", "DescribeDBInstances", hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		return k.rdsInstances(c, body)
	}})
	on("rds", "RestoreDBClusterFromSnapshot", hook{before: clusterNotReady("SnapshotIdentifier"), after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		el := first(body, "DBCluster")
		id, gb := field(el, "DBClusterIdentifier"), atoi(field(el, "AllocatedStorage"))
		k.start(c.Region, "db-cluster", id, k.d.ClusterRestore.For(gb), 0)
		return k.rdsClusters(c, body)
	}})
	on("rds", "DescribeDBClusters", hook{after: func(k *Clock, c Call, _ url.Values, body []byte) []byte {
		return k.rdsClusters(c, body)
	}})
}

// rdsSnapshots rewrites DBSnapshot / DBClusterSnapshot elements still in
// progress, after a create or on a describe.
func (k *Clock) rdsSnapshots(c Call, body []byte, idTag string) []byte {
	el := strings.TrimSuffix(idTag, "Identifier")
	kinds := []string{"db-snapshot", "db-snapshot-copy"}
	if el == "DBClusterSnapshot" {
		kinds = []string{"cluster-snapshot", "cluster-snapshot-copy"}
	}
	return rewrite(body, el, func(e []byte) []byte {
		id := field(e, idTag)
		for _, kind := range kinds {
			f, busy := k.progress(c.Region, kind, id)
			if !busy {
				continue
			}
			status := "creating"
			if strings.HasSuffix(kind, "-copy") {
				// AWS queues a copy (`pending`) before it moves data.
				status = "copying"
				if f < 0.05 {
					status = "pending"
				}
			}
			e = setField(e, "Status", status)
			return setField(e, "PercentProgress", fmt.Sprint(int(f*100)))
		}
		if field(e, "PercentProgress") == "" && field(e, "Status") == "available" {
			return setField(e, "PercentProgress", "100") // moto leaves it out; AWS says 100
		}
		return e
	})
}

// rdsInstances shows instances still being made as AWS does: `creating`
// without an endpoint (AWS has not given one yet), then `backing-up`.
func (k *Clock) rdsInstances(c Call, body []byte) []byte {
	return rewrite(body, "DBInstance", func(e []byte) []byte {
		f, busy := k.progress(c.Region, "db-instance", field(e, "DBInstanceIdentifier"))
		if !busy {
			return e
		}
		if f < 1-k.d.BackingUp {
			return setField(drop(e, "Endpoint"), "DBInstanceStatus", "creating")
		}
		return setField(e, "DBInstanceStatus", "backing-up")
	})
}

func (k *Clock) rdsClusters(c Call, body []byte) []byte {
	return rewrite(body, "DBCluster", func(e []byte) []byte {
		if _, busy := k.progress(c.Region, "db-cluster", field(e, "DBClusterIdentifier")); !busy {
			return e
		}
		e = drop(drop(e, "Endpoint"), "ReaderEndpoint")
		return setField(e, "Status", "creating")
	})
}
