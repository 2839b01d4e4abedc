package queue

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// updateAPI rewrites testdata/api.txt from the source: go test ./queue -run
// TestAPI -update. The diff of that file is then the API change to review.
var updateAPI = flag.Bool("update", false, "rewrite testdata/api.txt with the package's exported API")

const apiFile = "testdata/api.txt"

// TestAPI keeps package queue's exported API in a checked-in file, one line
// per name with its kind and signature (like Go's own api/*.txt), so that
// every change of the public API is a reviewed diff of testdata/api.txt. It
// fails when the source and the file differ. The last line is the count of
// exported names (top-level names, methods of exported types, exported
// fields of exported struct types; embedded fields are listed but not
// counted), the figure issue #14 asks the CHANGELOG to record.
func TestAPI(t *testing.T) {
	lines, err := exportedAPI(".")
	if err != nil {
		t.Fatal(err)
	}
	got := formatAPI(lines)
	if *updateAPI {
		if err := os.WriteFile(apiFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: %s", apiFile, lastLine(got))
		return
	}
	want, err := os.ReadFile(apiFile)
	if err != nil {
		t.Fatalf("%v (create it with go test ./queue -run TestAPI -update)", err)
	}
	if got != string(want) {
		t.Errorf("the exported API differs from %s (review the change, then go test ./queue -run TestAPI -update):\n%s",
			apiFile, lineDiff(string(want), got))
	}
	t.Log(lastLine(got))
}

// TestAPIListsEveryKind checks exportedAPI itself on a small source, so that
// TestAPI cannot pass by listing nothing: every kind of exported name is
// listed and counted, and unexported ones are not.
func TestAPIListsEveryKind(t *testing.T) {
	dir := t.TempDir()
	src := `package p

import "time"

const A, b = 1, 2
const (
	C K = "c"
)
var E = errors.New("e")
type K string
type S struct {
	F, g int
	H    time.Duration // comment
	K
	*T
}
type T struct{ x int }
type u struct{ V int }
type I interface{ M(int) error; n() }
func (S) Method(a, b int, c ...string) (n int, err error) { return }
func (*u) Method() {}
func f() {}
func Fn(func(int) bool, chan<- int) map[string][]*S { return nil }
`
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p_test.go"), []byte("package p\nfunc TestX() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lines, err := exportedAPI(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []apiLine{
		{text: "const A = 1", counted: true},
		{text: "const C K = \"c\"", counted: true},
		{text: "func Fn(func(int) bool, chan<- int) map[string][]*S", counted: true},
		{text: "method (S) Method(int, int, ...string) (int, error)", counted: true},
		{text: "type I interface", counted: true},
		{text: "type I interface, M(int) error", counted: true},
		{text: "type K string", counted: true},
		{text: "type S struct", counted: true},
		{text: "type S struct, F int", counted: true},
		{text: "type S struct, H time.Duration", counted: true},
		{text: "type S struct, embedded *T", counted: false},
		{text: "type S struct, embedded K", counted: false},
		{text: "type T struct", counted: true},
		{text: "var E = errors.New(\"e\")", counted: true},
	}
	if !slices.Equal(lines, want) {
		t.Errorf("exportedAPI:\n got %v\nwant %v", lines, want)
	}
	if got, want := lastLine(formatAPI(lines)), "# 12 exported names"; got != want {
		t.Errorf("count line %q, want %q", got, want)
	}
}

// apiLine is one exported name as listed in testdata/api.txt.
type apiLine struct {
	text    string
	counted bool // false for embedded fields, which add no name
}

// exportedAPI lists the exported API of the package in dir, from its
// non-test files that the default build context (this system) selects,
// sorted.
func exportedAPI(dir string) ([]apiLine, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var lines []apiLine
	add := func(counted bool, format string, args ...any) {
		lines = append(lines, apiLine{text: fmt.Sprintf(format, args...), counted: counted})
	}
	str := func(e ast.Expr) string {
		var b bytes.Buffer
		if err := printer.Fprint(&b, fset, e); err != nil {
			return fmt.Sprintf("<%v>", err)
		}
		return b.String()
	}
	for _, ent := range ents {
		name := ent.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if ok, err := build.Default.MatchFile(dir, name); err != nil || !ok {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					add(true, "func %s%s", d.Name.Name, signature(d.Type, str))
					continue
				}
				recv := d.Recv.List[0].Type
				base := recv
				if s, ok := base.(*ast.StarExpr); ok {
					base = s.X
				}
				if id, ok := base.(*ast.Ident); ok && id.IsExported() {
					add(true, "method (%s) %s%s", str(recv), d.Name.Name, signature(d.Type, str))
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.ValueSpec:
						kind := d.Tok.String()
						for i, n := range s.Names {
							if !n.IsExported() {
								continue
							}
							text := kind + " " + n.Name
							if s.Type != nil {
								text += " " + str(s.Type)
							}
							if i < len(s.Values) {
								text += " = " + str(s.Values[i])
							}
							add(true, "%s", text)
						}
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						typeAPI(s, str, add)
					}
				}
			}
		}
	}
	slices.SortFunc(lines, func(a, b apiLine) int { return strings.Compare(a.text, b.text) })
	return lines, nil
}

// typeAPI lists an exported type: the type itself, and the exported fields
// of a struct or the exported methods of an interface.
func typeAPI(s *ast.TypeSpec, str func(ast.Expr) string, add func(bool, string, ...any)) {
	name := s.Name.Name
	switch t := s.Type.(type) {
	case *ast.StructType:
		add(true, "type %s struct", name)
		for _, f := range t.Fields.List {
			if len(f.Names) == 0 {
				add(false, "type %s struct, embedded %s", name, str(f.Type))
				continue
			}
			for _, n := range f.Names {
				if n.IsExported() {
					add(true, "type %s struct, %s %s", name, n.Name, str(f.Type))
				}
			}
		}
	case *ast.InterfaceType:
		add(true, "type %s interface", name)
		for _, m := range t.Methods.List {
			for _, n := range m.Names {
				if ft, ok := m.Type.(*ast.FuncType); ok && n.IsExported() {
					add(true, "type %s interface, %s%s", name, n.Name, signature(ft, str))
				}
			}
		}
	default:
		assign := " "
		if s.Assign.IsValid() {
			assign = " = "
		}
		add(true, "type %s%s%s", name, assign, str(s.Type))
	}
}

// signature prints a function type without parameter names, as Go's api
// files do, so that renaming a parameter is not an API change.
func signature(ft *ast.FuncType, str func(ast.Expr) string) string {
	list := func(fl *ast.FieldList) []string {
		var out []string
		if fl == nil {
			return nil
		}
		for _, f := range fl.List {
			n := max(len(f.Names), 1)
			for range n {
				out = append(out, str(f.Type))
			}
		}
		return out
	}
	sig := "(" + strings.Join(list(ft.Params), ", ") + ")"
	switch res := list(ft.Results); len(res) {
	case 0:
	case 1:
		sig += " " + res[0]
	default:
		sig += " (" + strings.Join(res, ", ") + ")"
	}
	return sig
}

// formatAPI is the contents of testdata/api.txt: the lines, then the count.
func formatAPI(lines []apiLine) string {
	var b strings.Builder
	n := 0
	for _, l := range lines {
		b.WriteString("pkg queue, " + l.text + "\n")
		if l.counted {
			n++
		}
	}
	fmt.Fprintf(&b, "# %d exported names\n", n)
	return b.String()
}

func lastLine(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	w := strings.Split(want, "\n")
	g := strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("-" + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+" + l + "\n")
		}
	}
	return b.String()
}
