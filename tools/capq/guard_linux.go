package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/capq/capq/verify/conform"
)

// guardArg is the first argument that makes the capq binary an
// implementation guard (conform.Guard) instead of a command.
const guardArg = "__impl-guard"

// setImplGuard makes check --impl and replay start every implementation
// process under this binary as a guard, so that a SIGKILLed capq leaves
// nothing running (spec R55's process hygiene, attack report item 15).
func setImplGuard() {
	if exe, err := os.Executable(); err == nil {
		conform.Guard = []string{exe, guardArg}
	}
}

// guardParent and guardPrctlErr are set by init for the guard.
var (
	guardParent   int
	guardPrctlErr syscall.Errno
)

// init asks, in a guard, for SIGTERM instead of SIGKILL when capq dies.
// The parent-death signal is an attribute of each thread, and the one
// conform set (SIGKILL, for processes that are no guard) is on the main
// thread, where the kernel looks when the parent dies: init runs there, so
// the prctl must happen here rather than in any goroutine.
func init() {
	if len(os.Args) < 3 || os.Args[1] != guardArg {
		return
	}
	guardParent = os.Getppid()
	const prSetPdeathsig = 1
	_, _, guardPrctlErr = syscall.RawSyscall(syscall.SYS_PRCTL, prSetPdeathsig, uintptr(syscall.SIGTERM), 0)
}

// maybeRunGuard runs the guard and exits when the arguments ask for it.
//
// The guard is the leader of the implementation's process group (conform
// starts it with Setpgid). It asks the kernel for SIGTERM when its parent,
// capq, dies (PR_SET_PDEATHSIG, which unlike the group survives capq's
// SIGKILL), and on that or any other stopping signal SIGKILLs its whole
// group: the shell and everything the implementation started, and itself.
// Otherwise it runs the command with its own standard streams (the same
// descriptors: nothing is copied) and exits with its status.
func maybeRunGuard() {
	if len(os.Args) < 3 || os.Args[1] != guardArg {
		return
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if guardPrctlErr != 0 {
		fmt.Fprintf(os.Stderr, "capq impl-guard: prctl: %v\n", guardPrctlErr)
	}
	killGroup := func() {
		syscall.Kill(-syscall.Getpgrp(), syscall.SIGKILL)
		os.Exit(137)
	}
	// capq may have died before the prctl: then no signal will come.
	if os.Getppid() != guardParent {
		killGroup()
	}
	go func() {
		<-sigs
		killGroup()
	}()
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(ee.ExitCode())
	}
	fmt.Fprintf(os.Stderr, "capq impl-guard: %v\n", err)
	os.Exit(127)
}
