package discover

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pilotlight/pilotlight/internal/partition"
)

// Files are what init writes: the config, and the user-data template it
// names (nil when the app has no user-data).
type Files struct {
	Config       []byte
	UserData     []byte
	UserDataName string
	// Undecided is the list the config ends with.
	Undecided []string
}

// DefaultUserDataName is the template's file name, beside the config.
const DefaultUserDataName = "user-data.sh.tmpl"

// Render writes the commented config for d. Every resource says where it
// was found, every default a person must own is marked DECIDE, and what
// discovery could not settle is listed at the end.
func Render(d *Discovery, userDataName string) (Files, error) {
	if userDataName == "" {
		userDataName = DefaultUserDataName
	}
	w := &writer{d: d, notes: append([]string{}, d.Undecided...), names: map[string]bool{}}
	root := newMap()
	w.stackLine(root)
	root.add("primary", flowMap("region", str(d.Primary)))
	root.add("dr", flowMap("region", str(d.DR)))
	st := newMap()
	st.add("path", str(".pilotlight")).line("DECIDE: a local directory suits one operator; a team keeps state in S3 in " + d.DR + " (s3://bucket/prefix)")
	root.add("state", st.n)
	var files Files
	protect := newMap()
	dbs, recDB := w.databases()
	if dbs != nil {
		protect.add("databases", dbs)
	}
	imgs, recApp := w.images()
	if imgs != nil {
		protect.add("images", imgs)
	}
	if bs := w.buckets(); bs != nil {
		protect.add("buckets", bs)
	}
	root.add("protect", protect.n).head("What the protect plane copies to " + d.DR + " on a schedule.")
	rec := newMap()
	rec.add("network", w.network()).head(w.networkHead()...)
	if recDB != nil {
		rec.add("database", w.recoverDatabase(*recDB))
	}
	recCache := w.pickCache()
	if recCache != nil {
		rec.add("cache", w.recoverCache(*recCache))
	}
	if recApp != nil {
		app, ud := w.recoverApp(*recApp, recDB, recCache, userDataName)
		rec.add("app", app)
		if ud != "" {
			files.UserData, files.UserDataName = []byte(ud), userDataName
		}
		if dns := w.dns(); dns != nil {
			rec.add("dns", dns).head(w.dnsHead()...)
		}
	} else if len(d.Records) > 0 {
		w.note("DNS records point at the load balancer, but without an app to recover recover.dns is left out")
	}
	root.add("recover", rec.n).head("How the stack is rebuilt in " + d.DR + " at failover or in a drill.")

	var b bytes.Buffer
	var head []string
	for _, l := range w.header() {
		head = append(head, wrap(l, 96)...)
	}
	b.WriteString(comment(head, 0))
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root.n); err != nil {
		return Files{}, fmt.Errorf("render config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return Files{}, fmt.Errorf("render config: %w", err)
	}
	b.WriteString(w.footer())
	files.Config = b.Bytes()
	files.Undecided = append([]string{}, w.notes...)
	sort.Strings(files.Undecided)
	return files, nil
}

// writer carries what rendering decides along the way.
type writer struct {
	d     *Discovery
	notes []string
	names map[string]bool // protect names in use (databases, images, buckets)
	// imageNames maps an app's index to its protect.images name.
	imageNames map[int]string
}

func (w *writer) note(format string, args ...any) {
	w.notes = append(w.notes, fmt.Sprintf(format, args...))
}

// unique returns name, or name with a suffix when another protected
// resource already uses it: the config's names are one namespace.
func (w *writer) unique(name, suffix string) string {
	n := name
	for i := 2; w.names[n]; i++ {
		n = name + suffix
		if i > 2 {
			n += strconv.Itoa(i)
		}
	}
	w.names[n] = true
	return n
}

func (w *writer) header() []string {
	d := w.d
	return []string{
		fmt.Sprintf("pilotlight config for stack %s, written by `pilotlight init` from what runs in %s (partition %s), to be recovered in %s.", d.Stack, d.Primary, d.Partition, d.DR),
		"How the stack was told from the rest: " + d.Scope.Why + ".",
		"Each resource says where it was found. DECIDE marks a default that needs a person's decision; what init could not decide is listed at the end.",
		"Check it with `pilotlight validate`; `pilotlight prepare` builds what the DR region needs ahead of a disaster.",
	}
}

func (w *writer) footer() string {
	if len(w.notes) == 0 {
		return "\n# init found nothing it could not decide.\n"
	}
	var b strings.Builder
	b.WriteString("\n# What init could not decide (read this before `pilotlight prepare`):\n")
	notes := append([]string{}, w.notes...)
	sort.Strings(notes)
	for _, n := range notes {
		lines := wrap(n, 94)
		for i, l := range lines {
			if i == 0 {
				b.WriteString("#   - " + l + "\n")
			} else {
				b.WriteString("#     " + l + "\n")
			}
		}
	}
	return b.String()
}

func (w *writer) stackLine(root *mapNode) {
	d := w.d
	k := root.add("stack", str(d.Stack))
	if d.StackFrom != "" {
		k.line("DECIDE: prefixes the names of what pilotlight creates; derived from " + d.StackFrom + " (or pass --stack)")
	}
}

// databases renders protect.databases and picks the one recover restores:
// the one the app's user-data names, else the first.
func (w *writer) databases() (*yaml.Node, *Database) {
	d := w.d
	if len(d.Databases) == 0 {
		return nil, nil
	}
	list := seq()
	var rec *Database
	dbs := append([]Database{}, d.Databases...)
	sort.Slice(dbs, func(i, j int) bool { return dbs[i].ID < dbs[j].ID })
	for i := range dbs {
		db := dbs[i]
		w.names[db.ID] = true
		m := newMap()
		m.add("id", str(db.ID))
		m.add("kind", str(db.Kind))
		every := m.add("every", str("2h")).line("DECIDE: schedule; the most data a failover may lose (RPO) against snapshot cost")
		if db.Encrypted {
			every.head(
				fmt.Sprintf("DECIDE: %s is encrypted (KMS key %s); its copies in %s need a key there, and copying refuses to run without one:", db.ID, orNone(db.KMSKey), d.DR),
				"dr_kms_key: alias/<a key in "+d.DR+">")
			w.note("database %s is encrypted: set protect.databases[].dr_kms_key to a KMS key in %s before the first copy", db.ID, d.DR)
		} else {
			every.head("DECIDE: " + db.ID + " is not encrypted; set dr_kms_key: alias/<a key in " + d.DR + "> to encrypt its DR copies")
		}
		m.add("keep", flowMap("primary", num(5), "dr", num(5))).line("DECIDE: retention, snapshots kept per region (RDS allows 100 manual snapshots per region)")
		list.Content = append(list.Content, m.n)
		m.n.HeadComment = comment(wrap("Found: "+db.Found+".", 94), 0)
		if rec == nil && w.namedInUserData(db.Endpoints) {
			rec = &dbs[i]
		}
	}
	if rec == nil {
		rec = &dbs[0]
	}
	if len(dbs) > 1 {
		w.note("%d databases are protected; recover.database restores %s only (the one the app's user-data names, or the first): change recover.database.from if another one is the app's", len(dbs), rec.ID)
	}
	return list, rec
}

func (w *writer) namedInUserData(endpoints []string) bool {
	for _, a := range w.d.Apps {
		for _, e := range endpoints {
			if e != "" && strings.Contains(strings.ToLower(a.UserData), strings.ToLower(e)) {
				return true
			}
		}
	}
	return false
}

// images renders protect.images, one per app unit with an instance to
// image, and returns the app that recover rebuilds.
func (w *writer) images() (*yaml.Node, *App) {
	d := w.d
	list := seq()
	var rec *App
	w.imageNames = map[int]string{}
	for i := range d.Apps {
		a := d.Apps[i]
		if a.Image.ID == "" && len(a.Image.Tag) == 0 {
			w.note("%s: %s; it is not protected", a.label(), a.Image.Why)
			continue
		}
		base := a.AutoScalingGroup
		if base == "" {
			base = "app"
		}
		name := w.unique(base, "-image")
		w.imageNames[i] = name
		m := newMap()
		m.add("name", str(name))
		if len(a.Image.Tag) > 0 {
			var kv []any
			for _, k := range slices.Sorted(maps.Keys(a.Image.Tag)) {
				kv = append(kv, k, str(a.Image.Tag[k]))
			}
			m.add("instance", flowMap("tag", flowMap(kv...))).line(a.Image.Why)
		} else {
			m.add("instance", flowMap("id", str(a.Image.ID))).line("DECIDE: " + a.Image.Why)
			w.note("%s: %s", a.label(), a.Image.Why)
		}
		m.add("every", str("24h")).line("DECIDE: schedule of images; the app's RPO is the age of the newest image copy").
			head("DECIDE: if the instance's EBS volumes are encrypted, set dr_kms_key: alias/<a key in " + d.DR + "> for the image copies")
		m.add("keep", flowMap("primary", num(3), "dr", num(3))).line("DECIDE: retention, images kept per region")
		m.add("no_reboot", boolean(true)).line("CreateImage must not reboot production (the seed's did)")
		m.n.HeadComment = comment(wrap("Found: "+a.Found+w.launchText(a)+".", 94), 0)
		list.Content = append(list.Content, m.n)
		if rec == nil {
			rec = &d.Apps[i]
		}
	}
	if len(list.Content) == 0 {
		return nil, nil
	}
	return list, rec
}

func (w *writer) launchText(a App) string {
	var parts []string
	if a.LaunchTemplate != "" {
		parts = append(parts, "launch template "+a.LaunchTemplate)
	}
	if a.LaunchConfiguration != "" {
		parts = append(parts, "launch configuration "+a.LaunchConfiguration)
	}
	if len(a.Instances) > 0 {
		parts = append(parts, fmt.Sprintf("%d instance(s)", len(a.Instances)))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

func (w *writer) buckets() *yaml.Node {
	d := w.d
	if len(d.Buckets) == 0 {
		if len(d.Apps) > 0 {
			w.note("no S3 bucket was found in the app's user-data or its instance role's policies: add protect.buckets by hand if the app keeps files in S3")
		}
		return nil
	}
	list := seq()
	for _, b := range d.Buckets {
		name := w.unique(b.Name, "-bucket")
		m := newMap()
		if name != b.Name {
			m.add("name", str(name))
		}
		m.add("source", str(b.Name))
		m.add("replica", str(replicaName(b.Name, d.DR))).line("DECIDE: the replica bucket's name in " + d.DR + " (S3 names are global)")
		m.add("create_replica", boolean(true)).line("`pilotlight replicate setup` creates the replica with versioning")
		m.add("storage_class", str("STANDARD")).line("DECIDE: STANDARD_IA costs less to keep and more to read")
		m.n.HeadComment = comment(wrap("Found: "+b.Found+".", 94), 0)
		list.Content = append(list.Content, m.n)
	}
	return list
}

// replicaName proposes a DR bucket name: the source's with the DR region,
// within S3's 63 characters.
func replicaName(source, dr string) string {
	suffix := "-" + dr
	n := source
	if len(n)+len(suffix) > 63 {
		n = strings.TrimRight(n[:63-len(suffix)], "-.")
	}
	return n + suffix
}

func (w *writer) networkHead() []string {
	d := w.d
	lines := []string{fmt.Sprintf("DECIDE: the DR network. `pilotlight prepare` builds it in %s as the seed's basic/ did (VPC, public, app and db subnets in two AZs, security groups, subnet groups); to use an existing VPC instead, give vpc: {tag: {...}} with its subnets and security groups.", d.DR)}
	if partition.HomeOf("iam", d.Primary) == d.Primary {
		lines = append(lines, fmt.Sprintf("IAM's control plane lives in %s, the primary region: everything IAM that recovery needs is made by `pilotlight prepare`, ahead of time; failover creates no IAM.", d.Primary))
	}
	return lines
}

func (w *writer) network() *yaml.Node {
	d := w.d
	m := newMap()
	cidr := "10.1.0.0/16"
	why := "the seed's DR CIDR"
	if p, err := netip.ParsePrefix(d.Scope.CIDR); err == nil && p.Addr().Is4() && p.Bits() >= 16 && p.Bits() <= 20 {
		cidr, why = d.Scope.CIDR, "the primary VPC's CIDR, as the seed used one CIDR in both regions"
	} else if d.Scope.CIDR != "" {
		w.note("the primary VPC's CIDR %s is outside /16../20, which prepare builds: recover.network.cidr is %s", d.Scope.CIDR, cidr)
	}
	m.add("cidr", str(cidr)).line(why)
	m.add("azs", num(2))
	return m.n
}

func (w *writer) recoverDatabase(db Database) *yaml.Node {
	d := w.d
	m := newMap()
	m.add("from", str(db.ID)).line("restored from its newest copy in " + d.DR)
	if db.Class != "" {
		m.add("class", str(db.Class)).line("DECIDE: the primary's class; a smaller one restores as fast and costs less until scaled up")
	}
	if db.MultiAZ {
		m.add("multi_az", boolean(true)).line("DECIDE: the primary is Multi-AZ; a single-AZ DR database costs half")
	}
	if db.Port > 0 {
		m.add("port", num(db.Port))
	}
	m.n.HeadComment = ""
	var head []string
	if db.SubnetGroup != "" {
		head = append(head, wrap(fmt.Sprintf("The primary's subnet group %s and security groups exist only in %s: prepare makes the DR ones.", db.SubnetGroup, d.Primary), 94)...)
	}
	if db.ParameterGroup != "" {
		head = append(head, wrap(fmt.Sprintf("DECIDE: %s uses the custom parameter group %s, which exists only in %s: without one the DR copy runs with the engine's default parameters. Copy the group to %s (aws rds copy-db-parameter-group), then set:",
			db.ID, db.ParameterGroup, d.Primary, d.DR), 94)...)
		head = append(head, "parameter_group: "+db.ParameterGroup)
		w.note("database %s uses the custom parameter group %s: copy it to %s and set recover.database.parameter_group, or the DR copy runs with the engine's defaults", db.ID, db.ParameterGroup, d.DR)
	}
	if len(head) > 0 {
		m.n.Content[0].HeadComment = comment(head, 0)
	}
	return m.n
}

// pickCache chooses the cache recover creates: the one the app's
// user-data names, else the first.
func (w *writer) pickCache() *Cache {
	caches := w.d.Caches
	if len(caches) == 0 {
		return nil
	}
	for i := range caches {
		if w.namedInUserData(caches[i].Endpoints) {
			return &caches[i]
		}
	}
	return &caches[0]
}

func (w *writer) recoverCache(c Cache) *yaml.Node {
	m := newMap()
	m.add("engine", str(c.Engine))
	if c.EngineVersion != "" {
		m.add("engine_version", str(c.EngineVersion))
	}
	m.add("node_type", str(c.NodeType)).line("DECIDE: the primary's node type")
	nodes := max(c.Nodes, 1)
	m.add("nodes", num(nodes))
	m.n.Content[0].HeadComment = comment(wrap("From "+c.ID+": "+c.Found+". Created empty at recovery: nothing of the cache is copied, as in the seed.", 94), 0)
	return m.n
}

// recoverApp renders recover.app and the user-data template made from the
// app's user-data.
func (w *writer) recoverApp(a App, db *Database, cache *Cache, udName string) (*yaml.Node, string) {
	d := w.d
	idx := 0
	for i := range d.Apps {
		if d.Apps[i].AutoScalingGroup == a.AutoScalingGroup && strings.Join(d.Apps[i].Instances, ",") == strings.Join(a.Instances, ",") {
			idx = i
		}
	}
	m := newMap()
	m.add("image_from", str(w.imageNames[idx])).line("launched from the newest copy in " + d.DR + " of this image")
	if a.InstanceType != "" {
		m.add("instance_type", str(a.InstanceType)).line("the primary's")
	}
	minC, desired, maxC := a.Min, a.Desired, a.Max
	if maxC < 1 {
		minC, desired, maxC = 1, 1, 1
	}
	if desired < minC || desired > maxC {
		desired = minC
	}
	m.add("capacity", flowMap("min", num(minC), "desired", num(desired), "max", num(maxC))).line("DECIDE: the primary's sizes; recovery could start smaller and scale")
	var tmpl string
	if a.UserData != "" {
		var subs []templateSubst
		if db != nil {
			for _, e := range db.Endpoints {
				subs = append(subs, templateSubst{value: e, action: "{{ .DBHost }}", what: "database endpoint"})
			}
		}
		var decide []string
		if cache != nil {
			for _, e := range cache.Endpoints {
				subs = append(subs, templateSubst{value: e, action: "{{ .CacheHost }}", what: "cache endpoint"})
			}
			if len(cache.Endpoints) == 0 {
				// The primary's cache host must not survive as a literal:
				// the recovered app would talk to the dead region's cache.
				hosts := cacheHosts(a.UserData)
				for _, h := range hosts {
					subs = append(subs, templateSubst{value: h, action: "{{ .CacheHost }}", what: "what looks like an ElastiCache endpoint"})
				}
				if len(hosts) > 0 {
					decide = append(decide, fmt.Sprintf("DECIDE: the endpoint of cache %s could not be read; %s in the user-data looks like one and became {{ .CacheHost }}: check it is %s's.",
						cache.ID, strings.Join(hosts, ", "), cache.ID))
				} else {
					decide = append(decide, fmt.Sprintf("DECIDE: the endpoint of cache %s could not be read, so nothing in the user-data became {{ .CacheHost }}: put it where the user-data names the cache.", cache.ID))
				}
				w.note("the endpoint of cache %s could not be read: check {{ .CacheHost }} in %s", cache.ID, udName)
			}
		}
		for i, b := range d.Buckets {
			action := fmt.Sprintf("{{ index .Buckets %q }}", b.Name)
			if i == 0 {
				action = "{{ .Bucket }}"
			}
			subs = append(subs, templateSubst{value: b.Name, action: action, what: "bucket (the replica at recovery)"})
		}
		subs = append(subs, templateSubst{value: d.Primary, action: "{{ .Region }}", what: "region"})
		var did []string
		tmpl, did = userDataTemplate(a.UserData, subs)
		ud := m.add("user_data", str(udName)).line("the primary's user-data as a template: review it")
		lines := []string{"The template is the user-data of " + a.label() + ", with:"}
		for _, s := range did {
			lines = append(lines, "  "+s)
		}
		if len(did) == 0 {
			lines = append(lines, "  nothing replaced: it names no endpoint, bucket or region init found")
		}
		for _, l := range decide {
			lines = append(lines, wrap(l, 94)...)
		}
		lines = append(lines, "Anything else that differs in "+d.DR+" (secrets, hostnames) must be edited by hand.")
		ud.head(lines...)
		w.note("review %s, the user-data template made from %s's: recovery renders it with the recovered endpoints; it holds whatever the user-data holds, secrets included: keep it out of version control", udName, a.label())
	}
	port, hc := 80, a.HealthCheckPath
	if lb := d.LoadBalancer; lb != nil {
		https := false
		found := false
		for _, l := range lb.Listeners {
			if l.Protocol == "HTTP" && !found {
				port, found = l.Port, true
			}
			if l.Protocol == "HTTPS" {
				https = true
			}
		}
		if https {
			w.note("load balancer %s listens on HTTPS: recovery makes an HTTP listener on port %d only; the certificate and HTTPS listener in %s are not handled", lb.Name, port, d.DR)
		}
	}
	lbm := flowMap("port", num(port))
	if hc != "" {
		lbm.Content = append(lbm.Content, str("health_check_path"), str(hc))
	}
	lbKey := m.add("load_balancer", lbm)
	if a.TargetGroup != "" {
		lbKey.line("from target group " + a.TargetGroup)
	}
	var after []string
	if len(a.SecurityGroups) > 0 {
		var sgs []string
		for _, g := range a.SecurityGroups {
			s := g.ID
			if g.Name != "" {
				s += " (" + g.Name + ")"
			}
			sgs = append(sgs, s)
		}
		after = append(after, "The primary's security groups "+strings.Join(sgs, ", ")+" exist only in "+d.Primary+": prepare makes the DR app group.")
	}
	if a.KeyName != "" {
		after = append(after, "DECIDE: the instances use key pair "+a.KeyName+", which exists only in "+d.Primary+"; import it into "+d.DR+", then set:", "key_name: "+a.KeyName)
	}
	if a.Role != "" || a.InstanceProfile != "" {
		after = append(after, "The instance profile "+orNone(a.InstanceProfile)+" (role "+orNone(a.Role)+") is not reused: prepare makes a DR app role that reads the replica buckets.")
	}
	if len(after) > 0 {
		lbKey.head(after...)
	}
	m.n.Content[0].HeadComment = comment(wrap("From "+a.label()+": "+a.Found+w.launchText(a)+".", 94), 0)
	return m.n, tmpl
}

func (w *writer) dnsHead() []string {
	d := w.d
	rec := d.Records[0]
	lines := []string{"From: " + rec.Found + "."}
	home := partition.HomeOf("route53", d.Primary)
	if home == d.Primary {
		lines = append(lines,
			"WARNING (static stability): Route 53's control plane lives in "+home+", the primary region. With mode upsert, failover would have to change the record through the region that has failed.",
			"failover-records (recommended here) makes a PRIMARY/SECONDARY failover record pair with a health check ahead of time, so Route 53's data plane moves traffic by itself: about USD 0.50/month for the health check, plus a standby load balancer in "+d.DR+".")
	} else {
		lines = append(lines, "Route 53's control plane lives in "+home+", not the primary region: upsert (change the record at failover) also works here and needs no standby load balancer or health check; failover-records moves traffic with no Route 53 call at all.")
	}
	lines = append(lines, "In failover-records mode `pilotlight prepare` replaces the record "+rec.Name+" with the failover pair: review that before running it.")
	return lines
}

func (w *writer) dns() *yaml.Node {
	d := w.d
	if len(d.Records) == 0 {
		if d.LoadBalancer != nil {
			w.note("no Route 53 record points at load balancer %s (%s): recover.dns is left out; if the domain is served elsewhere, add dns: {mode: manual, record: <name>}", d.LoadBalancer.Name, d.LoadBalancer.DNSName)
		}
		return nil
	}
	rec := d.Records[0]
	if rec.Private {
		w.note("record %s is in a private hosted zone: Route 53 health checks cannot reach a private load balancer, so failover-records may not fit; consider mode upsert", rec.Name)
	}
	if rec.Routing != "" {
		w.note("record %s already uses a routing policy (set identifier %s): check that recover.dns fits it", rec.Name, rec.Routing)
	}
	m := newMap()
	mode := m.add("mode", str("failover-records"))
	if partition.HomeOf("route53", d.Primary) == d.Primary {
		mode.line("DECIDE: failover-records (static, recommended here), upsert or manual")
	} else {
		mode.line("DECIDE: failover-records (static) or upsert (changes the record at failover) or manual")
	}
	m.add("zone", str(rec.Zone))
	m.add("record", str(rec.Name))
	m.add("type", str(rec.Type))
	ttl := rec.TTL
	if ttl <= 0 {
		ttl = 60
	}
	m.add("ttl", num(ttl))
	m.add("primary_target", str(d.LoadBalancer.DNSName)).line("load balancer " + d.LoadBalancer.Name).
		head("DECIDE: for drills, drill_record: drill." + rec.Zone + " points a second name at the drill's load balancer")
	return m.n
}

// The YAML node helpers below keep the rendering readable: a mapping with
// add, and comments attached where yaml.v3 prints them.

type mapNode struct{ n *yaml.Node }

func newMap() *mapNode { return &mapNode{n: &yaml.Node{Kind: yaml.MappingNode}} }

// entry is a key and its value, for attaching comments.
type entry struct{ key, val *yaml.Node }

func (m *mapNode) add(key string, val *yaml.Node) entry {
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
	m.n.Content = append(m.n.Content, k, val)
	return entry{key: k, val: val}
}

// line puts a comment after the value on the same line.
func (e entry) line(text string) entry {
	e.val.LineComment = "# " + text
	return e
}

// head puts comment lines above the key.
func (e entry) head(lines ...string) entry {
	var all []string
	for _, l := range lines {
		all = append(all, wrap(l, 94)...)
	}
	e.key.HeadComment = comment(all, 0)
	return e
}

func seq() *yaml.Node { return &yaml.Node{Kind: yaml.SequenceNode} }

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func num(n int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(n)}
}

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

// flowMap makes a one-line mapping of key, value pairs; values are nodes
// or strings.
func flowMap(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Content = append(n.Content, str(kv[i].(string)))
		switch v := kv[i+1].(type) {
		case *yaml.Node:
			n.Content = append(n.Content, v)
		case string:
			n.Content = append(n.Content, str(v))
		}
	}
	return n
}

// comment turns lines into YAML comment text ("# " each).
func comment(lines []string, _ int) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("# " + l + "\n")
	}
	return b.String()
}

// wrap breaks text into lines of at most width characters at spaces.
// Indented text (a listing) is left whole.
func wrap(text string, width int) []string {
	if strings.HasPrefix(text, " ") {
		return []string{text}
	}
	words := strings.Fields(text)
	if len(words) == 0 {
		return []string{""}
	}
	var lines []string
	cur := words[0]
	for _, wd := range words[1:] {
		if len(cur)+1+len(wd) > width {
			lines = append(lines, cur)
			cur = wd
			continue
		}
		cur += " " + wd
	}
	return append(lines, cur)
}
