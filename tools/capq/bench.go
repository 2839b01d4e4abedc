package main

import (
	"flag"
	"os"
	"os/signal"
	"regexp"
	"syscall"

	"github.com/capq/capq/bench/suite"
)

func benchCmd() *command {
	var cfg benchsuite.Config
	return &command{
		name:    "bench",
		summary: "run the benchmark suite and print a table of figures against their targets",
		help: `Runs capq's performance benchmarks (the same bodies as go test -bench in
queue/ and bench/floor/) and prints one Markdown table: each figure, its
ratio to the floor (the same protocol in raw system calls) or to its baseline,
the target and whether it is met, with the machine, the file system measured
and whether its fsync looks real. The queue directories are made under --in,
which decides the file system measured, and removed afterwards; the queue in
--dir is not touched. A full run takes minutes; --quick takes well under one.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfg.Dir, "in", os.TempDir(), "make the benchmark queues under `DIR` (its file system is measured)")
			fs.BoolVar(&cfg.Quick, "quick", false, "smaller queues and few iterations: a smoke run, not a measurement")
			fs.BoolVar(&cfg.Big, "big", false, "add the 1,000,000-file listing (takes minutes)")
			fs.StringVar(&cfg.BenchTime, "benchtime", "", "benchtime of every benchmark, as go test spells it (\"1s\", \"200x\")")
			fs.StringVar(&cfg.Filter, "filter", "", "run only the figures matching this `regexp`")
		},
		run: func(e *env, fs *flag.FlagSet) error {
			if _, err := regexp.Compile(cfg.Filter); err != nil {
				return usageErrorf("bad --filter: %v", err)
			}
			ctx, stop := signal.NotifyContext(e.ctx, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if err := benchsuite.Run(ctx, e.stdout, cfg); err != nil {
				return failf("%v", err)
			}
			return nil
		},
	}
}
