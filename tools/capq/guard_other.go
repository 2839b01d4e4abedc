//go:build !linux

package main

// setImplGuard does nothing where there is no PR_SET_PDEATHSIG: the
// implementation's process group is still killed whenever capq exits by
// itself or by a signal it can catch.
func setImplGuard() {}

// maybeRunGuard does nothing: no guard is started here.
func maybeRunGuard() {}
