//go:build !race && unix

package conform

// raceBuild: the tests run under the race detector.
const raceBuild = false
