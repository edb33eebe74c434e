package spec

import (
	"strings"
	"testing"
)

func TestApplyEditsChangesOnlyTheValues(t *testing.T) {
	src := `stack: shop # the shop
protect:
  databases: [ { id: shop-db, keep: { primary: 3 } }, { id: other } ]
recover:
  database: { from: shop-db, class: db.t3.medium }
  dns:
    primary_target: "prod-lb.example.net" # old
`
	got, err := ApplyEdits([]byte(src), []ScalarEdit{
		{Path: []string{"protect", "databases", "[id=shop-db]", "id"}, Old: "shop-db", New: "shop-shop-db-fb"},
		{Path: []string{"recover", "database", "from"}, Old: "shop-db", New: "shop-shop-db-fb"},
		{Path: []string{"recover", "dns", "primary_target"}, Old: "prod-lb.example.net", New: "new-lb.us-east-1.elb.amazonaws.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer(
		"{ id: shop-db,", "{ id: shop-shop-db-fb,",
		"{ from: shop-db,", "{ from: shop-shop-db-fb,",
		`"prod-lb.example.net"`, `"new-lb.us-east-1.elb.amazonaws.com"`,
	).Replace(src)
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if _, err := ApplyEdits([]byte(src), []ScalarEdit{{Path: []string{"recover", "database", "from"}, Old: "elsewhere", New: "x"}}); err == nil {
		t.Fatal("an edit whose old value does not match must be refused")
	}
}
