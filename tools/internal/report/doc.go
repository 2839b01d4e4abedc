// Package report is what capq's campaign tools (tools/capq's check and
// tools/fuzzrun) show while they run and write when they end, in one place
// so that both tools behave alike:
//
//   - Progress: one live line per phase or target, redrawn in place when
//     the output is a terminal; plain periodic lines when it is not (a CI
//     log, a pipe), so a long campaign is never silent; nothing with Quiet.
//   - JUnit XML (WriteJUnit), the test-report format CI systems display:
//     one test case per phase or target, each failure with the command that
//     reproduces it.
//   - A Markdown summary (WriteMarkdown) for a CI job's summary page, e.g.
//     $GITHUB_STEP_SUMMARY on GitHub Actions.
//
// The package is for the tools only: production code never imports it.
package report
