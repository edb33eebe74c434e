package cost

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteText prints the estimate as the seed's table, extended: item,
// quantity, unit price, per month, per year, currency; totals; with tax;
// then the warm-standby comparison and the notes.
func WriteText(w io.Writer, e *Estimate) error {
	fmt.Fprintf(w, "Standby cost of stack %s: DR region %s, primary %s (%s, before tax unless stated)\n",
		e.Stack, e.DRRegion, e.PrimaryRegion, e.Currency)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ITEM\tQUANTITY\tUNIT PRICE\tPER MONTH\tPER YEAR\tCURRENCY")
	writeLines(tw, e.Standby)
	writeTotals(tw, "Total", e.StandbyTotal, e.Currency)
	if err := tw.Flush(); err != nil {
		return err
	}
	if e.WarmTotal != nil {
		fmt.Fprintf(w, "\nWarm standby for comparison: the above plus DB, one app instance and cache running %d h/month\n",
			HoursPerMonth)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ITEM\tQUANTITY\tUNIT PRICE\tPER MONTH\tPER YEAR\tCURRENCY")
		writeLines(tw, e.Warm)
		writeTotals(tw, "Warm standby total", *e.WarmTotal, e.Currency)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(e.OneOff) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ONE-OFF\tQUANTITY\tUNIT PRICE\tAMOUNT\tCURRENCY")
		for _, l := range e.OneOff {
			price, amount := "not priced", "-"
			if l.Priced {
				price, amount = l.UnitPrice.String()+"/"+l.PriceUnit, l.Once.String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Item, quantityText(l.Quantity, l.Unit), price, amount, l.Currency)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\nRounding: %s.\n", e.Rounding)
	regions := make([]string, 0, len(e.PriceSources))
	for r := range e.PriceSources {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	for _, r := range regions {
		fmt.Fprintf(w, "Prices %s: %s; override with --prices FILE.\n", r, e.PriceSources[r])
	}
	for _, n := range e.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
	return nil
}

func writeLines(tw io.Writer, lines []Line) {
	for _, l := range lines {
		price, month, year := "not priced", "-", "-"
		if l.Priced {
			price = l.UnitPrice.String() + "/" + l.PriceUnit
			year = l.PerYear.String()
			if l.PerMonth != nil {
				month = l.PerMonth.String()
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Item, quantityText(l.Quantity, l.Unit), price, month, year, l.Currency)
	}
}

func writeTotals(tw io.Writer, label string, t Totals, currency string) {
	suffix := ""
	if !t.Complete {
		suffix = " (incomplete: see notes)"
	}
	fmt.Fprintf(tw, "%s%s\t\t\t%s\t%s\t%s\n", label, suffix, t.PerMonth, t.PerYear, currency)
	if t.TaxRate.Sign() > 0 {
		pct := t.TaxRate.Mul(Int(100)).String()
		fmt.Fprintf(tw, "%s with tax (%s%%)\t\t\t%s\t%s\t%s\n", label, pct, t.PerMonthWithTax, t.PerYearWithTax, currency)
	}
}

// quantityText shows three decimals at most; the amounts use the exact value.
func quantityText(q Decimal, unit string) string {
	s := q.Text(3)
	if s == "0" && !q.IsZero() {
		s = "<0.001"
	}
	return strings.TrimSpace(s + " " + unit)
}
