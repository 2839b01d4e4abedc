package main

import (
	"errors"
	"flag"
	"math"
	"strconv"
)

// countFlag is an int flag that reads the same on every platform: its value
// is parsed as a 64-bit integer (any base strconv.ParseInt accepts, like
// flag.Int) and saturates at the bounds of int, and of int64 beyond them.
// A flag.Int on a 32-bit build refuses 2147483648 as out of range where a
// 64-bit build accepts it; with countFlag the same command line behaves
// the same on both: every count of capq is far below 2^31 in practice, so
// a saturated limit is as good as the one given (spec R48).
type countFlag struct{ p *int }

// countVar defines a countFlag with the given name, default and usage.
func countVar(fs *flag.FlagSet, p *int, name string, value int, usage string) {
	*p = value
	fs.Var(countFlag{p}, name, usage)
}

// errParse is the error of a value that is no integer at all, worded like
// flag.Int's.
var errParse = errors.New("parse error")

func (f countFlag) String() string {
	if f.p == nil { // the flag package's zero value, for its defaults
		return "0"
	}
	return strconv.Itoa(*f.p)
}

func (f countFlag) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		// ParseInt returns ±MaxInt64 with ErrRange: saturate there too.
		var ne *strconv.NumError
		if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
			return errParse
		}
	}
	*f.p = int(min(max(v, math.MinInt), math.MaxInt))
	return nil
}
