package points

import (
	"slices"
	"time"

	"github.com/pilotlight/pilotlight/internal/spec"
)

// Prune returns the points of one region that retention deletes. It is pure:
// the cycle lists, Prune decides, the cycle deletes.
//
// A point is kept while it is among the newest keep.Primary (region
// "primary") or keep.DR (region "dr") available points, or younger than
// keep.MaxAge when that is set. On top of that, Prune never returns:
//   - a point pilotlight did not make (Managed false): foreign snapshots and
//     images are never touched, which the seed's retention got wrong;
//   - a point still being made or copied: deleting it would cancel work a
//     cycle is waiting on;
//   - the newest point whose DR copy completed: newestCompleteDR is the id
//     of the primary point behind the newest available DR copy (for RDS the
//     copy has the same id). In the primary region the point with that id,
//     in the DR region the copy of it, is kept whatever keep says.
//
// Failed managed points are returned: they are not recovery points.
func Prune(points []Point, keep spec.Keep, region string, newestCompleteDR string, now time.Time) (del []Point) {
	return PruneInUse(points, keep, region, newestCompleteDR, nil, now)
}

// PruneInUse is Prune that also never returns a point whose id is in
// inUse: the points a running failover, drill or failback restores from
// (see InUse). They count towards keep like any other point.
func PruneInUse(points []Point, keep spec.Keep, region string, newestCompleteDR string, inUse []string, now time.Time) (del []Point) {
	n := keep.Primary
	if region == "dr" {
		n = keep.DR
	}
	if n < 1 {
		// keep 0 would delete every point; spec rejects it, and so does Prune.
		n = 1
	}
	var cands []Point
	for _, p := range points {
		if p.Managed {
			cands = append(cands, p)
		}
	}
	sortNewestFirst(cands)
	rank := 0
	for _, p := range cands {
		protected := newestCompleteDR != "" && (p.ID == newestCompleteDR || p.CopyOf == newestCompleteDR) ||
			slices.Contains(inUse, p.ID)
		switch {
		case protected && !p.Available():
			continue
		case p.Status == StatusFailed:
			del = append(del, p)
			continue
		case !p.Available():
			continue
		}
		rank++
		switch {
		case protected:
		case rank <= n:
		case keep.MaxAge.D > 0 && now.Sub(p.Created) < keep.MaxAge.D:
		default:
			del = append(del, p)
		}
	}
	return del
}
