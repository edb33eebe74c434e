// Package cost prices the pilot light: what the DR region stores (AMI and
// RDS snapshots, replica buckets by storage class), the cross-region
// transfer that keeps it current, and what failover-records DNS keeps
// standing, per month and per year, beside what a warm standby would cost.
// It measures sizes in the DR region only, does its arithmetic on exact
// decimals with the seed's rounding rule, and never guesses a price it does
// not have. It creates and changes nothing in AWS.
package cost
