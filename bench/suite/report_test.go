package benchsuite

import (
	"context"
	"flag"
	"os"
	"testing"
)

// The whole suite as one report, until (and besides) `capq bench`:
//
//	go test ./bench/suite -run TestReport -capq.report -timeout 60m -v
//
// -capq.quick, -capq.big and -capq.dir select as for the benchmarks;
// -capq.benchtime and -capq.filter set Config.BenchTime and Config.Filter.
var (
	report         = flag.Bool("capq.report", false, "run the whole benchmark suite and print its report (slow)")
	reportDir      = flag.String("capq.dir", "", "directory under which the suite creates its queues (default $TMPDIR)")
	reportQuick    = flag.Bool("capq.quick", false, "smaller queues and fewer iterations")
	reportBig      = flag.Bool("capq.big", false, "add the 1,000,000-file listing")
	reportTime     = flag.String("capq.benchtime", "", "benchtime of every figure (default: per figure)")
	reportFilterRe = flag.String("capq.filter", "", "regular expression selecting figures")
)

func TestReport(t *testing.T) {
	if !*report {
		t.Skip("the suite runs with -capq.report")
	}
	cfg := Config{Dir: *reportDir, Quick: *reportQuick, Big: *reportBig, BenchTime: *reportTime, Filter: *reportFilterRe}
	if err := Run(context.Background(), os.Stdout, cfg); err != nil {
		t.Fatal(err)
	}
}
