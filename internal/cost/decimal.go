package cost

import (
	"fmt"
	"math/big"
	"strings"
)

// Decimal is an exact rational amount. Money is never held in float64:
// 1024 × 0.1030029 × 12 must come out as 1265.6996352, not 1265.6996351999…,
// for the rounding rule to give the seed's figures to the last digit.
// A Decimal is immutable; the zero value is 0.
type Decimal struct{ r *big.Rat }

// ParseDecimal reads a plain decimal such as "0.1030029" or "200" exactly.
// Fractions ("1/3") and exponents are refused: prices and sizes are written
// the way price lists write them.
func ParseDecimal(s string) (Decimal, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "/eE") {
		return Decimal{}, fmt.Errorf("%q is not a decimal number", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return Decimal{}, fmt.Errorf("%q is not a decimal number", s)
	}
	return Decimal{r}, nil
}

// MustDecimal is ParseDecimal for the built-in tables; a bad literal there is
// a programming error caught by the tests.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

// Int makes a Decimal from an integer.
func Int(n int64) Decimal { return Decimal{new(big.Rat).SetInt64(n)} }

// Frac makes the exact Decimal a/b (b > 0), e.g. bytes / 2^30 for GiB.
func Frac(a, b int64) Decimal { return Decimal{new(big.Rat).SetFrac64(a, b)} }

func (d Decimal) rat() *big.Rat {
	if d.r == nil {
		return new(big.Rat)
	}
	return d.r
}

// Add returns d + e.
func (d Decimal) Add(e Decimal) Decimal { return Decimal{new(big.Rat).Add(d.rat(), e.rat())} }

// Mul returns d × e.
func (d Decimal) Mul(e Decimal) Decimal { return Decimal{new(big.Rat).Mul(d.rat(), e.rat())} }

// Div returns d ÷ e; e must not be zero.
func (d Decimal) Div(e Decimal) Decimal { return Decimal{new(big.Rat).Quo(d.rat(), e.rat())} }

// Sign is -1, 0 or +1.
func (d Decimal) Sign() int { return d.rat().Sign() }

// Cmp compares d and e.
func (d Decimal) Cmp(e Decimal) int { return d.rat().Cmp(e.rat()) }

// IsZero reports whether d is 0.
func (d Decimal) IsZero() bool { return d.Sign() == 0 }

// RoundCents rounds half away from zero to two decimals: the rule the seed's
// table follows (1265.6996352 → 1265.70, shown as 1265.7).
func (d Decimal) RoundCents() Decimal { return d.Round(2) }

// Round rounds half away from zero to places decimals.
func (d Decimal) Round(places int) Decimal {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	n := new(big.Int).Mul(d.rat().Num(), scale)
	den := d.rat().Denom()
	q, m := new(big.Int).QuoRem(n, den, new(big.Int))
	// |remainder| × 2 ≥ denominator: round away from zero.
	if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(den) >= 0 {
		if n.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return Decimal{new(big.Rat).SetFrac(q, scale)}
}

// maxShown bounds the digits printed for a value whose decimal expansion is
// long or endless (a third of a GB); money and prices always end sooner.
const maxShown = 10

// String writes the shortest exact decimal, trailing zeros dropped, as the
// seed prints its table (1265.7, 1539.3744). A value needing more than ten
// decimals is rounded to ten.
func (d Decimal) String() string { return d.Text(maxShown) }

// Text writes d with at most places decimals (rounded half away from zero),
// trailing zeros dropped.
func (d Decimal) Text(places int) string {
	s := d.Round(places).rat().FloatString(places)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// MarshalJSON writes a JSON number with the exact digits, never through a
// float64.
func (d Decimal) MarshalJSON() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalJSON reads a JSON number or a string holding one.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	v, err := ParseDecimal(strings.Trim(string(b), `"`))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
