package main

import (
	"math"
	"math/rand/v2"
	"slices"

	mstats "github.com/aclements/go-moremath/stats"
)

// Confidence intervals for ratios of medians.
//
// benchstat gives each median a distribution-free interval (order
// statistics) but says nothing about the ratio of two medians, which is
// what a target ("sheaves ≤ 1.10 × floor") or the kernel's "better by"
// reads. These intervals come from a percentile bootstrap: resample each
// sample with replacement, take the ratio of the resampled medians, and
// read the interval off the quantiles of that ratio over many resamples.
// Like benchstat's medians it assumes nothing about the distribution, and
// the two samples are resampled independently, as the runs were
// independent. With 10 runs the bootstrap distribution of a median is
// lumpy (a median of 10 takes few values), so the level is only about 95%:
// TestRatioCoverage finds the true ratio in 96.5% of its 200 draws of two
// samples of 10. With fewer than minIntervalSamples runs no interval is
// given at all, as benchstat gives none. The generator has a fixed seed,
// so that the same file always prints the same intervals.

const (
	// bootstrapResamples is the number of resamples per interval: enough
	// for the 2.5% and 97.5% quantiles to settle to two or three digits.
	bootstrapResamples = 4000
	// minIntervalSamples is the fewest runs in a sample for which an
	// interval is given: benchstat's minimum for an interval of the
	// median at 95%.
	minIntervalSamples = 6
)

// An estimate is a ratio of medians with its confidence interval.
type estimate struct {
	Value  float64
	Lo, Hi float64
	// HasCI is false when a sample has too few runs for an interval.
	HasCI bool
}

// in reports whether x lies in the interval of e.
func (e estimate) in(x float64) bool { return e.HasCI && e.Lo <= x && x <= e.Hi }

// median returns the median of xs, which it sorts.
func median(xs []float64) float64 {
	slices.Sort(xs)
	return mstats.Sample{Xs: xs, Sorted: true}.Quantile(0.5)
}

// ratioOfMedians estimates median(num) / median(den) at the confidence
// level conf.
func ratioOfMedians(num, den []float64, conf float64) estimate {
	return geomeanOfRatios([][2][]float64{{num, den}}, conf)
}

// geomeanOfRatios estimates the geometric mean, over the pairs, of
// median(pair[0]) / median(pair[1]), resampling every sample in each
// round. With one pair it is the ratio of its medians.
func geomeanOfRatios(pairs [][2][]float64, conf float64) estimate {
	value := func(med func(xs []float64) float64) float64 {
		rs := make([]float64, len(pairs))
		for i, p := range pairs {
			rs[i] = med(p[0]) / med(p[1])
		}
		if len(rs) == 1 {
			return rs[0]
		}
		return mstats.GeoMean(rs)
	}
	e := estimate{Value: value(func(xs []float64) float64 { return median(slices.Clone(xs)) })}
	for _, p := range pairs {
		if len(p[0]) < minIntervalSamples || len(p[1]) < minIntervalSamples {
			return e
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var buf []float64
	resampledMedian := func(xs []float64) float64 {
		buf = buf[:0]
		for range xs {
			buf = append(buf, xs[rng.IntN(len(xs))])
		}
		return median(buf)
	}
	boot := make([]float64, bootstrapResamples)
	for i := range boot {
		boot[i] = value(resampledMedian)
		if math.IsNaN(boot[i]) {
			return e // a zero in a denominator or a geomean
		}
	}
	slices.Sort(boot)
	s := mstats.Sample{Xs: boot, Sorted: true}
	e.Lo, e.Hi, e.HasCI = s.Quantile((1-conf)/2), s.Quantile(1-(1-conf)/2), true
	return e
}

// inverse is the estimate of 1/x given that of x.
func (e estimate) inverse() estimate {
	return estimate{Value: 1 / e.Value, Lo: 1 / e.Hi, Hi: 1 / e.Lo, HasCI: e.HasCI}
}

// betterBy is the estimate of 1 - x given that of x (the time saved, as a
// fraction, when x is a ratio of times new/old).
func (e estimate) betterBy() estimate {
	return estimate{Value: 1 - e.Value, Lo: 1 - e.Hi, Hi: 1 - e.Lo, HasCI: e.HasCI}
}
