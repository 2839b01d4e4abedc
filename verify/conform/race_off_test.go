//go:build !race

package conform

// raceBuild: the tests run under the race detector.
const raceBuild = false
