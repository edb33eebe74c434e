package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// SetSourceRegions makes the proxy answer RDS DescribeSourceRegions, which
// moto lacks, from table: destination region → the regions it can copy
// snapshots from. A region missing from the table has no sources, so a test
// can say "this region cannot copy from that one". nil turns it off.
func (p *Proxy) SetSourceRegions(table map[string][]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if table == nil {
		p.sourceRegions = nil
		return
	}
	p.sourceRegions = map[string][]string{}
	for dst, srcs := range table {
		p.sourceRegions[dst] = slices.Clone(srcs)
	}
}

func writeSourceRegions(w http.ResponseWriter, region string, sources []string, only string) {
	var b strings.Builder
	b.WriteString(`<DescribeSourceRegionsResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeSourceRegionsResult><SourceRegions>`)
	for _, s := range sources {
		if only != "" && s != only {
			continue
		}
		host := "rds." + s + ".amazonaws.com"
		if strings.HasPrefix(s, "cn-") {
			host += ".cn"
		}
		fmt.Fprintf(&b, `<SourceRegion><RegionName>%s</RegionName><Endpoint>https://%s</Endpoint><Status>available</Status><SupportsDBInstanceAutomatedBackupsReplication>true</SupportsDBInstanceAutomatedBackupsReplication></SourceRegion>`, s, host)
	}
	fmt.Fprintf(&b, `</SourceRegions></DescribeSourceRegionsResult><ResponseMetadata><RequestId>%s-sources</RequestId></ResponseMetadata></DescribeSourceRegionsResponse>`, region)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
}
