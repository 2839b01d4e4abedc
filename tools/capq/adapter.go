package main

import (
	"errors"
	"flag"

	"github.com/capq/capq/verify/conform"
)

func adapterCmd() *command {
	var broken string
	return &command{
		name:    "adapter",
		hidden:  true,
		summary: "speak the check protocol (spec/PROTOCOL.md) for capq's own queue in --dir",
		help: `Reads requests from stdin and writes replies to stdout, one JSON object per
line, as spec/PROTOCOL.md describes; capq check --impl 'capq adapter' runs it.
The queue is opened at hello (with hello's max_size), or at the first other
request. --broken=MODE makes it wrong on purpose, to show that the check
catches it: reverse-list, lose-append, no-delete or no-sync.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&broken, "broken", "", "misbehave on purpose: `MODE` is reverse-list, lose-append, no-delete or no-sync")
		},
		run: func(e *env, fs *flag.FlagSet) error {
			err := conform.Serve(e.dir, e.stdin, e.stdout, broken)
			switch {
			case errors.Is(err, conform.ErrBrokenMode):
				return usageErrorf("usage: %v", err)
			case err != nil:
				return failf("%v", err)
			}
			return nil
		},
	}
}
