package report

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes s as a GitHub-flavoured Markdown summary, for a CI
// job's summary page ($GITHUB_STEP_SUMMARY): a verdict heading, the
// campaign's properties, a table with a row per case, then each failure
// with its report and the command that reproduces it.
func WriteMarkdown(w io.Writer, s Suite) error {
	var b strings.Builder
	failed := s.Failed()
	verdict := "passed"
	switch {
	case s.Interrupted:
		// An incomplete campaign is no evidence of a pass; the case it
		// cut short is an error, not a finding, so only real failures
		// are counted.
		verdict = "INTERRUPTED (incomplete, not a pass)"
		if n := s.count(Fail); n > 0 {
			verdict += fmt.Sprintf(", FAILED (%d of %d)", n, len(s.Cases))
		}
	case failed > 0:
		verdict = fmt.Sprintf("FAILED (%d of %d)", failed, len(s.Cases))
	}
	fmt.Fprintf(&b, "### %s: %s\n\n", s.Name, verdict)
	if len(s.Properties) > 0 {
		var props []string
		for _, p := range s.Properties {
			props = append(props, fmt.Sprintf("%s `%s`", p[0], p[1]))
		}
		b.WriteString(strings.Join(props, " · ") + "\n\n")
	}
	head := append([]string{"case", "result"}, s.Columns...)
	head = append(head, "time")
	b.WriteString("| " + strings.Join(head, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat(" --- |", 2) + strings.Repeat(" ---: |", len(s.Columns)+1) + "\n")
	for _, c := range s.Cases {
		result := string(c.Status)
		switch c.Status {
		case Fail, Error:
			result = "**" + strings.ToUpper(result) + "**"
		case Skip, Flake:
			if c.Message != "" {
				result += ": " + c.Message
			}
		}
		row := []string{cell(caseName(c)), cell(result)}
		for i := range s.Columns {
			v := ""
			if i < len(c.Values) {
				v = c.Values[i]
			}
			row = append(row, cell(v))
		}
		row = append(row, Round(c.Time).String())
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	for _, c := range s.Cases {
		if c.Status != Fail && c.Status != Error {
			continue
		}
		fmt.Fprintf(&b, "\n#### %s %s\n\n", strings.ToUpper(string(c.Status)), cell(caseName(c)))
		if c.Message != "" {
			b.WriteString(cell(c.Message) + "\n\n")
		}
		if c.Detail != "" {
			b.WriteString(fence(c.Detail))
		}
		if c.Reproduce != "" {
			b.WriteString("Reproduce:\n\n" + fence(c.Reproduce))
		}
		for _, a := range c.Artifacts {
			fmt.Fprintf(&b, "- artifact: `%s`\n", a)
		}
	}
	for _, n := range s.Notes {
		b.WriteString("\n" + strings.TrimRight(n, "\n") + "\n")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func caseName(c Case) string {
	if c.Class != "" && c.Class != c.Name {
		return c.Class + "." + c.Name
	}
	return c.Name
}

// cell makes s safe inside a table cell or a heading: one line, pipes
// escaped.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// fence puts s in a code block whose fence is longer than any run of
// backticks inside it.
func fence(s string) string {
	f := "```"
	for strings.Contains(s, f) {
		f += "`"
	}
	return f + "\n" + strings.TrimRight(s, "\n") + "\n" + f + "\n\n"
}
