package spec

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/schedule/cron"
)

type validator struct {
	cfg      *Config
	lines    map[string]int
	file     string
	root     int // line of the top-level mapping
	problems Problems
}

func (v *validator) bad(field, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.file, Line: v.line(field), Field: field, Why: fmt.Sprintf(format, args...)})
}

// line finds the line of a field, or of its nearest parent that has one:
// a missing field is reported where the mapping that lacks it starts.
func (v *validator) line(field string) int {
	for f := field; f != ""; {
		if l, ok := v.lines[f]; ok {
			return l
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return v.root
}

func (v *validator) set(field string) bool { _, ok := v.lines[field]; return ok }

// RDS identifiers: a letter first, letters, digits and single hyphens, no
// trailing hyphen (the seed's "rds_snapshot_bej..." broke this rule).
var rdsID = regexp.MustCompile(`^[A-Za-z](?:[A-Za-z0-9]|-[A-Za-z0-9])*$`)

var stackRe = regexp.MustCompile(`^[a-z](?:[a-z0-9]|-[a-z0-9]){0,30}$`)

// nameRe is for the names pilotlight gives images and buckets: they go
// into AMI names, which take "3-128 alphanumeric characters, parentheses
// (()), square brackets ([]), spaces ( ), periods (.), slashes (/), dashes
// (-), single quotes ('), at-signs (@), or underscores(_)" (EC2
// CreateImage). pilotlight takes the subset that is also safe in a file
// path, a tag value and a shell word, so that no name is rewritten on the
// way to AWS and two names never become one AMI prefix.
var nameRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`)

// ValidName reports whether name is acceptable as a protected image's or
// bucket's name (protect.images[].name, protect.buckets[].name), for code
// that writes configs, such as discover.
func ValidName(name string) bool { return nameRe.MatchString(name) && !strings.Contains(name, "..") }

var bucketRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

var storageClasses = map[string]bool{
	"STANDARD": true, "STANDARD_IA": true, "ONEZONE_IA": true, "INTELLIGENT_TIERING": true,
	"GLACIER_IR": true, "GLACIER": true, "DEEP_ARCHIVE": true, "REDUCED_REDUNDANCY": true,
}

func (v *validator) validate() {
	c := v.cfg
	if c.Stack == "" {
		v.bad("stack", "required")
	} else if !stackRe.MatchString(c.Stack) {
		v.bad("stack", "must be 1-31 lower-case letters, digits and single hyphens, starting with a letter (it prefixes RDS identifiers)")
	} else if strings.HasPrefix(c.Stack, "internal-") {
		// The DR load balancers are named <stack>-...; Elastic Load
		// Balancing refuses names that "begin with internal-".
		v.bad("stack", "must not begin with internal-: the load balancers named after it would be refused")
	}
	v.regions()
	v.state()
	names := map[string]string{}
	unique := func(field, name string) {
		if name == "" {
			return
		}
		if prev, ok := names[name]; ok {
			v.bad(field, "name %q is already used by %s", name, prev)
			return
		}
		names[name] = field
	}
	var lock *VaultLock
	for i, d := range c.Protect.Databases {
		f := fmt.Sprintf("protect.databases[%d]", i)
		switch {
		case d.ID == "":
			v.bad(f+".id", "required")
		case !rdsID.MatchString(d.ID) || len(d.ID) > 63:
			v.bad(f+".id", "%q is not an RDS identifier (letter first, then letters, digits, single hyphens; at most 63)", d.ID)
		}
		unique(f+".id", d.ID)
		if d.Kind != "" && d.Kind != "instance" && d.Kind != "cluster" {
			v.bad(f+".kind", "must be instance or cluster, not %q", d.Kind)
		}
		v.schedule(f+".every", d.Every)
		v.keep(f+".keep", d.Keep)
		v.duration(f+".target_rpo", d.TargetRPO)
		v.kmsKey(f+".dr_kms_key", d.DRKMSKey)
		v.vaultLock(f+".vault_lock", d, &lock)
	}
	for i, im := range c.Protect.Images {
		f := fmt.Sprintf("protect.images[%d]", i)
		if im.Name == "" {
			v.bad(f+".name", "required")
		} else if !ValidName(im.Name) {
			v.bad(f+".name", "%q: use 1-63 letters, digits, '.', '_' and '-', starting and ending with a letter or digit (it names AMIs and state records)", im.Name)
		}
		unique(f+".name", im.Name)
		if im.Instance.ID == "" && len(im.Instance.Tag) == 0 {
			v.bad(f+".instance", "needs id or tag to select the instance")
		} else if im.Instance.ID != "" && len(im.Instance.Tag) > 0 {
			v.bad(f+".instance", "give id or tag, not both")
		}
		v.selectorTags(f+".instance.tag", im.Instance.Tag)
		v.schedule(f+".every", im.Every)
		v.keep(f+".keep", im.Keep)
		v.duration(f+".target_rpo", im.TargetRPO)
		v.kmsKey(f+".dr_kms_key", im.DRKMSKey)
	}
	seenParam := map[string]bool{}
	for i, p := range c.Protect.Parameters {
		f := fmt.Sprintf("protect.parameters[%d].name", i)
		switch {
		case p.Name == "":
			v.bad(f, "required")
		case seenParam[p.Name]:
			v.bad(f, "%q is listed twice", p.Name)
		}
		seenParam[p.Name] = true
	}
	for i, b := range c.Protect.Buckets {
		f := fmt.Sprintf("protect.buckets[%d]", i)
		if b.Name != "" && !ValidName(b.Name) {
			v.bad(f+".name", "%q: use 1-63 letters, digits, '.', '_' and '-', starting and ending with a letter or digit", b.Name)
		}
		if b.Name == "" {
			b.Name = b.Source
		}
		unique(f+".name", b.Name)
		for _, x := range []struct{ field, val string }{{"source", b.Source}, {"replica", b.Replica}} {
			if x.val == "" {
				v.bad(f+"."+x.field, "required")
			} else if !bucketRe.MatchString(x.val) || strings.Contains(x.val, "..") {
				v.bad(f+"."+x.field, "%q is not a valid S3 bucket name", x.val)
			}
		}
		if b.Source != "" && b.Source == b.Replica {
			v.bad(f+".replica", "must differ from source")
		}
		if b.StorageClass != "" && !storageClasses[b.StorageClass] {
			v.bad(f+".storage_class", "unknown storage class %q", b.StorageClass)
		}
		if !b.Every.IsZero() {
			v.schedule(f+".every", b.Every)
		}
		v.kmsKey(f+".replica_kms_key", b.ReplicaKMSKey)
	}
	v.recover()
	if len(v.problems) == 0 {
		v.defaults()
	}
}

func (v *validator) regions() {
	c := v.cfg
	ok := true
	for _, r := range []struct{ field, region string }{{"primary.region", c.Primary.Region}, {"dr.region", c.DR.Region}} {
		if r.region == "" {
			v.bad(r.field, "required")
			ok = false
		} else if !partition.Known(r.region) {
			v.bad(r.field, "unknown region %q", r.region)
			ok = false
		}
	}
	if !ok {
		return
	}
	if c.Primary.Region == c.DR.Region {
		v.bad("dr.region", "must differ from primary.region (%s)", c.Primary.Region)
	} else if !partition.SamePartition(c.Primary.Region, c.DR.Region) {
		pp, _ := partition.Of(c.Primary.Region)
		pd, _ := partition.Of(c.DR.Region)
		v.bad("dr.region", "%s is in partition %s but primary %s is in %s: nothing can be copied across partitions", c.DR.Region, pd.ID, c.Primary.Region, pp.ID)
	}
}

func (v *validator) state() {
	p := v.cfg.State.Path
	if strings.HasPrefix(p, "s3://") {
		bucket := strings.SplitN(strings.TrimPrefix(p, "s3://"), "/", 2)[0]
		if !bucketRe.MatchString(bucket) {
			v.bad("state.path", "%q does not name a valid S3 bucket", p)
		}
	} else if strings.Contains(p, "://") {
		v.bad("state.path", "%q: only a local directory or s3://bucket/prefix is supported", p)
	} else if v.cfg.State.LockTable != "" {
		v.bad("state.lock_table", "a lock table goes with an s3:// state path; the local store locks its own file")
	}
}

func (v *validator) schedule(field string, s Schedule) {
	if s.IsZero() {
		return
	}
	p, err := ParseSchedule(s.Raw)
	if err != nil {
		v.bad(field, "%q: %v", s.Raw, err)
		return
	}
	// A cron whose years are all past is accepted by the syntax and never
	// runs: no backups, and nothing says so. Two days back covers any
	// time zone serve or Scheduler may evaluate it in.
	if p.Cron != nil {
		if c, err := cron.Parse(p.Cron); err == nil && c.Next(time.Now().UTC().Add(-48*time.Hour)).IsZero() {
			v.bad(field, "%q never fires again: its years are over", s.Raw)
		}
	}
}

func (v *validator) duration(field string, d Duration) {
	if d.IsZero() {
		return
	}
	if _, err := ParseDuration(d.Raw); err != nil {
		v.bad(field, "%q: %v", d.Raw, err)
	}
}

// vaultLock checks one database's vault_lock; first is the first lock seen,
// which every later one must equal (the stack has one DR vault).
func (v *validator) vaultLock(field string, d Database, first **VaultLock) {
	l := d.VaultLock
	if l == nil {
		return
	}
	if d.Engine != "aws-backup" && d.Engine != "auto" {
		v.bad(field, "applies to the aws-backup and auto engines; engine is %q", d.Engine)
	}
	var minD, maxD, after time.Duration
	parse := func(name string, du Duration) time.Duration {
		if du.IsZero() {
			return 0
		}
		x, err := ParseDuration(du.Raw)
		if err != nil {
			v.bad(field+"."+name, "%q: %v", du.Raw, err)
			return 0
		}
		if x%(24*time.Hour) != 0 {
			v.bad(field+"."+name, "%q: AWS Backup counts retention in whole days", du.Raw)
		}
		return x
	}
	minD, maxD, after = parse("min_retention", l.MinRetention), parse("max_retention", l.MaxRetention), parse("compliance_after", l.ComplianceAfter)
	if l.MinRetention.IsZero() && l.MaxRetention.IsZero() {
		v.bad(field, "needs min_retention or max_retention")
	}
	if !l.MinRetention.IsZero() && minD < 24*time.Hour {
		v.bad(field+".min_retention", "must be at least 1d")
	}
	if minD > 0 && maxD > 0 && maxD < minD {
		v.bad(field+".max_retention", "%s is shorter than min_retention %s", l.MaxRetention.Raw, l.MinRetention.Raw)
	}
	if !l.ComplianceAfter.IsZero() && after < 72*time.Hour {
		v.bad(field+".compliance_after", "AWS Backup needs at least 3d before a lock becomes immutable")
	}
	// Retention keeps every point younger than keep.max_age whatever the
	// counts say, and the lifecycle deletes at max_age: so max_age at least
	// min_retention is what makes retention never ask a locked vault to
	// delete a point it must keep.
	if minD > 0 {
		age, err := ParseDuration(d.Keep.MaxAge.Raw)
		switch {
		case d.Keep.MaxAge.Raw == "":
			v.bad(field+".min_retention", "%s needs keep.max_age of at least as long: without it keep.dr would delete DR points the lock forbids deleting", l.MinRetention.Raw)
		case err == nil && age < minD:
			v.bad(field+".min_retention", "%s is longer than keep.max_age %s: the lifecycle would delete DR points the lock forbids deleting", l.MinRetention.Raw, d.Keep.MaxAge.Raw)
		}
	}
	if maxD > 0 {
		age, err := ParseDuration(d.Keep.MaxAge.Raw)
		if d.Keep.MaxAge.Raw == "" || (err == nil && age > maxD) {
			v.bad(field+".max_retention", "%s: keep.max_age must be set and no longer, or AWS Backup refuses the copy into the locked vault", l.MaxRetention.Raw)
		}
	}
	if *first == nil {
		*first = l
	} else if (*first).MinRetention.Raw != l.MinRetention.Raw || (*first).MaxRetention.Raw != l.MaxRetention.Raw || (*first).ComplianceAfter.Raw != l.ComplianceAfter.Raw {
		v.bad(field, "differs from an earlier database's vault_lock: the stack has one DR vault, so one lock")
	}
}

func (v *validator) keep(field string, k Keep) {
	if v.set(field+".primary") && k.Primary < 1 {
		v.bad(field+".primary", "must be >= 1")
	}
	if v.set(field+".dr") && k.DR < 1 {
		v.bad(field+".dr", "must be >= 1")
	}
	v.duration(field+".max_age", k.MaxAge)
}

func (v *validator) recover() {
	c := v.cfg
	r := &c.Recover
	n := r.Network
	if !n.VPC.IsZero() {
		if n.VPC.ID != "" && len(n.VPC.Tag) > 0 {
			v.bad("recover.network.vpc", "give id or tag, not both")
		}
		v.selectorTags("recover.network.vpc.tag", n.VPC.Tag)
		if n.CIDR != "" {
			v.bad("recover.network.cidr", "describes the network prepare builds; with recover.network.vpc given it would be ignored")
		}
		if n.AZs != 0 {
			v.bad("recover.network.azs", "describes the network prepare builds; with recover.network.vpc given it would be ignored")
		}
	} else {
		if n.CIDR != "" {
			if p, err := netip.ParsePrefix(n.CIDR); err != nil || !p.Addr().Is4() || p.Bits() > 20 || p.Bits() < 16 {
				v.bad("recover.network.cidr", "%q must be an IPv4 CIDR from /16 to /20", n.CIDR)
			}
		}
		if n.AZs != 0 && (n.AZs < 2 || n.AZs > 6) {
			v.bad("recover.network.azs", "must be 2 to 6 (RDS subnet groups need two AZs)")
		}
	}
	if d := r.Database; d != nil {
		if d.From == "" && len(c.Protect.Databases) != 1 {
			v.bad("recover.database.from", "required unless exactly one database is protected")
		} else if d.From != "" {
			if _, ok := c.Database(d.From); !ok {
				v.bad("recover.database.from", "%q is not in protect.databases", d.From)
			}
		}
		if d.Identifier != "" && (!rdsID.MatchString(d.Identifier) || len(d.Identifier) > 63) {
			v.bad("recover.database.identifier", "%q is not an RDS identifier (letter first, then letters, digits, single hyphens; at most 63)", d.Identifier)
		}
		if d.ParameterGroup != "" && (!rdsID.MatchString(d.ParameterGroup) || len(d.ParameterGroup) > 255) {
			v.bad("recover.database.parameter_group", "%q is not an RDS parameter group name (letter first, then letters, digits, single hyphens; at most 255)", d.ParameterGroup)
		}
		v.port("recover.database.port", d.Port)
	}
	if ca := r.Cache; ca != nil {
		if ca.Engine != "" && ca.Engine != "redis" && ca.Engine != "valkey" {
			v.bad("recover.cache.engine", "must be redis or valkey, not %q", ca.Engine)
		}
		if v.set("recover.cache.nodes") && ca.Nodes < 1 {
			v.bad("recover.cache.nodes", "must be >= 1")
		}
	}
	if a := r.App; a != nil {
		if a.ImageFrom == "" && len(c.Protect.Images) != 1 {
			v.bad("recover.app.image_from", "required unless exactly one image is protected")
		} else if a.ImageFrom != "" {
			if _, ok := c.Image(a.ImageFrom); !ok {
				v.bad("recover.app.image_from", "%q is not in protect.images", a.ImageFrom)
			}
		}
		cp := a.Capacity
		if v.set("recover.app.capacity") && (cp.Min < 0 || cp.Max < 1 || cp.Min > cp.Max || (cp.Desired != 0 && (cp.Desired < cp.Min || cp.Desired > cp.Max))) {
			v.bad("recover.app.capacity", "need 0 <= min <= desired <= max and max >= 1 (got %d/%d/%d)", cp.Min, cp.Desired, cp.Max)
		}
		v.port("recover.app.load_balancer.port", a.LoadBalancer.Port)
		v.targetHealth(a.LoadBalancer)
		// Target group health checks: the path "must begin with a '/'
		// and can have up to 1024 characters" (ELB CreateTargetGroup).
		if hp := a.LoadBalancer.HealthCheckPath; hp != "" && (!strings.HasPrefix(hp, "/") || len(hp) > 1024 || strings.ContainsAny(hp, " \t\r\n")) {
			v.bad("recover.app.load_balancer.health_check_path", "%q must begin with / and be at most 1024 characters without spaces", hp)
		}
		v.userData()
	}
	if d := r.DNS; d != nil {
		switch d.Mode {
		case "", DNSUpsert, DNSFailoverRecords, DNSManual:
		default:
			v.bad("recover.dns.mode", "must be upsert, failover-records or manual, not %q", d.Mode)
		}
		if d.Record == "" {
			v.bad("recover.dns.record", "required")
		}
		if d.Type != "" && d.Type != "alias" && d.Type != "cname" {
			v.bad("recover.dns.type", "must be alias or cname, not %q", d.Type)
		}
		if d.Mode != DNSManual {
			if d.Zone == "" {
				v.bad("recover.dns.zone", "required unless mode is manual")
			} else if d.Record != "" && !inZone(d.Record, d.Zone) {
				v.bad("recover.dns.record", "%q is not inside zone %q", d.Record, d.Zone)
			}
		}
		if d.Mode == DNSFailoverRecords && d.PrimaryTarget == "" {
			v.bad("recover.dns.primary_target", "required in failover-records mode: the production load balancer's DNS name for the PRIMARY record")
		}
		if v.set("recover.dns.ttl") && (d.TTL < 0 || d.TTL > 86400) {
			v.bad("recover.dns.ttl", "must be 0 to 86400")
		}
		v.healthCheck(d.HealthCheck)
	}
}

// userData renders the template as failover will, with endpoints as long
// as real ones, so that a template error, a missing variable or a script
// over EC2's 16 KB shows here and not after the database is restored.
func (v *validator) userData() {
	if v.cfg.Recover.App.UserData == "" {
		return
	}
	if _, err := v.cfg.RenderUserData(v.cfg.placeholderEndpoints()); err != nil {
		v.bad("recover.app.user_data", "%v", err)
	}
}

// port is a TCP port as RDS and ELB take it; 0 means "not set" and gets
// the default, so only a written 0 is wrong.
func (v *validator) port(field string, p int) {
	if v.set(field) && (p < 1 || p > 65535) {
		v.bad(field, "%d is not a TCP port (1-65535)", p)
	}
}

// selectorTags holds tag filters to EC2's tag rules: a key of 1-128
// characters, a value of at most 256. (aws: keys are reserved for AWS to
// write, but selecting by one, such as aws:autoscaling:groupName, is fine.)
func (v *validator) selectorTags(field string, tags map[string]string) {
	for k, val := range tags {
		switch {
		case k == "" || len(k) > 128:
			v.bad(field, "tag key %q must be 1-128 characters", k)
		case len(val) > 256:
			v.bad(field, "tag %s: a value is at most 256 characters", k)
		}
	}
}

// kmsKey checks what can be checked without AWS: an ARN names the DR
// region and its partition, since a copy is encrypted with a key in the
// region it is made in. Aliases and key ids are checked by `status`.
func (v *validator) kmsKey(field, key string) {
	if !strings.HasPrefix(key, "arn:") {
		return
	}
	parts := strings.SplitN(key, ":", 6)
	if len(parts) < 6 || parts[2] != "kms" {
		v.bad(field, "%q is not a KMS key ARN", key)
		return
	}
	dr := v.cfg.DR.Region
	if !partition.Known(dr) {
		return
	}
	if parts[3] != dr {
		v.bad(field, "%q is in %s, but the copies it encrypts are made in the DR region %s", key, parts[3], dr)
	} else if p, _ := partition.Of(dr); parts[1] != p.ID {
		v.bad(field, "%q names partition %s, but %s is in %s", key, parts[1], dr, p.ID)
	}
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func inZone(record, zone string) bool {
	r := strings.TrimSuffix(strings.ToLower(record), ".")
	z := strings.TrimSuffix(strings.ToLower(zone), ".")
	return r == z || strings.HasSuffix(r, "."+z)
}

// RelPath resolves a path written in the config relative to the config's
// own directory, as users expect of file references.
func (c *Config) RelPath(p string) string {
	if filepath.IsAbs(p) || c.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

// defaults fills what the user left out; it runs after validation so that
// "not set" and "set to zero" are told apart by the line map.
func (v *validator) defaults() {
	c := v.cfg
	if c.State.Path == "" {
		c.State.Path = ".pilotlight"
	}
	if strings.HasPrefix(c.State.Path, "s3://") && c.State.LockTable == "" {
		c.State.LockTable = "pilotlight-locks"
	}
	for i := range c.Protect.Databases {
		d := &c.Protect.Databases[i]
		if d.Kind == "" {
			d.Kind = "instance"
		}
		if d.Every.IsZero() {
			d.Every, _ = ParseSchedule("2h")
		}
		defaultKeep(&d.Keep, 5)
		defaultRPO(&d.TargetRPO, d.Every)
	}
	for i := range c.Protect.Images {
		im := &c.Protect.Images[i]
		if im.Every.IsZero() {
			im.Every, _ = ParseSchedule("24h")
		}
		if im.NoReboot == nil {
			t := true
			im.NoReboot = &t
		}
		defaultKeep(&im.Keep, 3)
		defaultRPO(&im.TargetRPO, im.Every)
	}
	for i := range c.Protect.Buckets {
		b := &c.Protect.Buckets[i]
		if b.Name == "" {
			b.Name = b.Source
		}
		if b.StorageClass == "" {
			b.StorageClass = "STANDARD"
		}
		if b.Every.IsZero() {
			b.Every, _ = ParseSchedule("1h")
		}
	}
	r := &c.Recover
	if r.Network.VPC.IsZero() {
		if r.Network.CIDR == "" {
			r.Network.CIDR = "10.1.0.0/16"
		}
		if r.Network.AZs == 0 {
			r.Network.AZs = 2
		}
	}
	if d := r.Database; d != nil {
		if d.From == "" {
			d.From = c.Protect.Databases[0].ID
		}
		if d.Identifier == "" {
			d.Identifier = c.Stack + "-" + d.From + "-dr"
		}
		if d.Port == 0 {
			d.Port = 3306
		}
	}
	if ca := r.Cache; ca != nil {
		if ca.Engine == "" {
			ca.Engine = "redis"
		}
		if ca.NodeType == "" {
			ca.NodeType = "cache.t3.micro"
		}
		if ca.Nodes == 0 {
			ca.Nodes = 1
		}
	}
	if a := r.App; a != nil {
		if a.ImageFrom == "" {
			a.ImageFrom = c.Protect.Images[0].Name
		}
		if a.InstanceType == "" {
			a.InstanceType = "t3.small"
		}
		if a.Capacity == (Capacity{}) {
			a.Capacity = Capacity{Min: 1, Desired: 2, Max: 4}
		}
		if a.Capacity.Desired == 0 {
			a.Capacity.Desired = max(a.Capacity.Min, 1)
		}
		if a.LoadBalancer.Port == 0 {
			a.LoadBalancer.Port = 80
		}
		if a.LoadBalancer.HealthCheckPath == "" {
			a.LoadBalancer.HealthCheckPath = "/"
		}
	}
	if d := r.DNS; d != nil {
		if d.Mode == "" {
			d.Mode = DNSFailoverRecords
		}
		if d.TTL == 0 {
			d.TTL = 60
		}
		if d.Type == "" {
			d.Type = "alias"
		}
	}
}

func defaultKeep(k *Keep, n int) {
	if k.Primary == 0 {
		k.Primary = n
	}
	if k.DR == 0 {
		k.DR = n
	}
}

func defaultRPO(rpo *Duration, every Schedule) {
	if !rpo.IsZero() {
		return
	}
	d := 2 * every.Interval
	if d == 0 {
		d = 48 * time.Hour
	}
	*rpo = Duration{Raw: d.String(), D: d}
}

// Warnings are true statements about risk that do not make the config
// invalid: above all, a DNS mode that needs a control plane living in the
// primary region (DESIGN.md, "Static stability").
func (c *Config) Warnings() []string {
	var out []string
	if d := c.Recover.DNS; d != nil && d.Mode == DNSUpsert && partition.Known(c.Primary.Region) {
		if home := partition.HomeOf("route53", c.Primary.Region); home == c.Primary.Region {
			out = append(out, fmt.Sprintf(
				"recover.dns.mode upsert needs the Route 53 control plane, which lives in %s, the primary region: "+
					"when %s fails, failover cannot change the record. Use failover-records (static: a health check "+
					"and a failover record pair made ahead, plus an idle DR load balancer: about USD 6/year for the health "+
					"check and USD 200/year for the load balancer at us-east-1 list prices; `pilotlight cost` prices it "+
					"for your regions) or manual.", home, home))
		}
	}
	return out
}
