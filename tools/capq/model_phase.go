package main

import (
	"fmt"

	"github.com/capq/capq/model"
)

// modelPhase runs the model-based campaign of package model: the rapid
// state machines of its tests, driven by a seeded PRNG (the real queue and
// the model side by side on the in-memory file system with faults, process
// kills and power cuts, then concurrency with a linearizability check).
// Its own phases become rows of the summary.
func modelPhase(p *phaseRun) phaseResult {
	var res phaseResult
	rep, err := model.RunCampaign(p.ctx, model.CampaignConfig{
		Seed: p.seed, Duration: p.budget, Dir: p.dir,
		Progress: func(ev model.CampaignEvent) {
			p.progress(float64(ev.Elapsed)/float64(p.budget), fmt.Sprintf("%s, %d runs", ev.Phase, ev.Runs))
		},
	})
	if err != nil {
		// RunCampaign fails only when it cannot set up (its scratch
		// directory): the environment's error, not a finding.
		res.Failed, res.ToolError, res.Message = true, true, err.Error()
		return res
	}
	for _, ph := range rep.Phases {
		res.Runs += ph.Runs
		res.Steps += ph.Steps
		res.Sub = append(res.Sub, phaseResult{Name: ph.Name, Runs: ph.Runs, Steps: ph.Steps, Elapsed: ph.Elapsed, Failed: ph.Failed})
	}
	if f := rep.Failure; f != nil {
		res.Failed = true
		res.Message = fmt.Sprintf("%s (run seed %d): %s", f.Phase, f.Seed, f.Message)
		res.Reproduce = f.Reproduce
	}
	return res
}
